"""`make s3`: a local S3 server for development (SeaweedFS's `weed mini` from .venv), on free ports.

    python dev/s3.py [--port 18333] [--data .s3data]

weed mini listens on ten ports: S3, master, volume, filer and admin, each with a gRPC port 10000 above it (weed's
convention, which its admin worker relies on). Each pair is chosen here: the S3 port asked for (S3_PORT in the
Makefile, 18333 by default), the other pairs from the ports just above it. A port that is taken (for those others,
also one not free again yet: a port a server closed a moment ago stays in TIME-WAIT) is skipped for the next free
one, and none is ever in the range the kernel hands out for outgoing connections, where any client could hold it
at the moment weed starts. The S3 port in use is printed with the .env lines that point the service at it. The
data keeps across port changes.
"""

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

from foreground import run

PROJECT = Path(__file__).resolve().parent.parent
ACCESS_KEY, SECRET_KEY, BUCKET = "dev-access-key", "dev-secret-key", "images"
# weed mini's components, the S3 API first; each listens on -NAME.port and on -NAME.port.grpc = that + GRPC_OFFSET.
COMPONENTS = ["s3", "master", "volume", "filer", "admin"]
GRPC_OFFSET = 10000


def ephemeral_start() -> int:
    """The first port of the kernel's range for outgoing connections (Linux's setting; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_free(port: int, reuse: bool = False) -> bool:
    """Whether a server can listen on 127.0.0.1:port now.

    Strictly (reuse False), a port that a closed connection holds in TIME-WAIT is not free; with `reuse` it is, as for
    weed's own listeners (SO_REUSEADDR), which start on it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if reuse:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def choose_ports(first: int, count: int, below: int) -> list[int]:
    """`count` ports p from `first` on, each with p and p + GRPC_OFFSET free and below `below`.

    The first is `first` itself whenever nothing listens there (the S3 port the .env lines name stays the same from
    one run to the next, just after the last one stopped too); the others are free strictly.
    """
    ports, port = [], first
    while len(ports) < count:
        if port + GRPC_OFFSET >= below:
            raise SystemExit(
                f"No {count} free pairs of ports (p, p + {GRPC_OFFSET}) from {first} on below {below}, where the ports "
                f"for outgoing connections begin: choose another S3_PORT, e.g. S3_PORT=14333 make s3."
            )
        reuse = port == first
        if port_free(port, reuse) and port_free(port + GRPC_OFFSET, reuse):
            ports.append(port)
        port += 1
    return ports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18333, help="the S3 port to try first (default 18333)")
    parser.add_argument("--data", default=str(PROJECT / ".s3data"), help="where the data is kept (default .s3data)")
    args = parser.parse_args()

    ports = dict(zip(COMPONENTS, choose_ports(args.port, len(COMPONENTS), ephemeral_start()), strict=True))
    s3_port = ports["s3"]
    data = Path(args.data)
    data.mkdir(exist_ok=True)

    taken = f" ({args.port} is taken)" if s3_port != args.port else ""
    print(f"S3 on http://127.0.0.1:{s3_port}{taken} (Ctrl-C stops it). Put these lines in .env, then make run:")
    print()
    print("USE_S3=True")
    print(f"AWS_ACCESS_KEY_ID={ACCESS_KEY}")
    print(f"AWS_SECRET_ACCESS_KEY={SECRET_KEY}")
    print(f"AWS_STORAGE_BUCKET_NAME={BUCKET}")
    print(f"AWS_S3_ENDPOINT_URL=http://127.0.0.1:{s3_port}")
    print("AWS_S3_ADDRESSING_STYLE=path")
    print()
    print("Images uploaded before the switch stay on disk: copy them with make manage ARGS=migrate_media_to_s3")
    listed = ", ".join(f"{name} {port}/{port + GRPC_OFFSET}" for name, port in ports.items())
    print(f"weed's ports (HTTP/gRPC): {listed}", flush=True)

    weed = Path(sys.executable).with_name("weed")
    command = [
        str(weed),
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-bucket={BUCKET}",
        *(f"-{name}.port={port}" for name, port in ports.items()),
        *(f"-{name}.port.grpc={port + GRPC_OFFSET}" for name, port in ports.items()),
        f"-filer.localSocket={data / 'filer.sock'}",
        f"-s3.localSocket={data / 's3.sock'}",
    ]
    # weed takes its credentials from its environment.
    os.environ.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    return run(command)


if __name__ == "__main__":
    sys.exit(main())
