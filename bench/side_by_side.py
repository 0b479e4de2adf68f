"""Throughput side by side with the seed's upstream implementation, in one run; and peak RSS growth per upload.

Both run under gunicorn -w 2 (sync workers, as the issue measured), DEBUG off, each on a PostgreSQL database of its
own, files on local disk (the upstream's DEFAULT_FILE_STORAGE is ignored by Django 5.1+, so it writes to disk even
with USE_S3; `--storage s3` puts this service on a SeaweedFS of its own instead). This service also has the
presigned-URL cache and throttles on Redis (throttles lifted), a quota, and variants queued to a Redis broker no
worker reads. wrk (4 connections) drives each endpoint for `--duration` seconds, this service and the upstream in
turn, `--runs` times; medians of the requests per second and of the per-run ratios are printed.

The upstream is not part of this repository: pass the folder of a checkout (nandolabs/django-s3-image-upload; it
runs with this project's Python, which has its dependencies, and reads DB_* and MEDIA_ROOT). Then the RSS phase:
one sync worker each, warmed up, its peak reset (/proc/PID/clear_refs), how far its peak RSS (VmHWM) rises above its
RSS across one upload of a 6.75 MP, 6.4 MiB JPEG (Linux, run as the processes' user).

    .venv/bin/python bench/side_by_side.py --upstream /path/to/upstream --redis redis://127.0.0.1:6379 [--runs 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's root: testutils, bench
from bench.service import PASSWORD, ROOT, Stack  # noqa: E402
from bench.upload_breakdown import service_env  # noqa: E402
from testutils import account_over_http, child_pids, photo_jpeg  # noqa: E402

LUA_UPLOAD = """
local f = io.open("{body}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary={boundary}"
wrk.headers["Authorization"] = "Bearer {token}"
"""
LUA_GET = """
wrk.headers["Authorization"] = "Bearer {token}"
"""
BOUNDARY = "benchboundary7d1a"


def multipart(data: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbench\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def wrk(url: str, script: Path, duration: int, connections: int) -> float:
    """Requests per second of successful answers (wrk counts non-2xx apart)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors:\n{out}")
    return float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))


def prepare(base: str, work: Path, name: str, data: bytes) -> dict[str, str]:
    """Two accounts: one to upload into, one with exactly 20 images for the list and the detail; wrk scripts."""
    token = account_over_http(base, f"{name}-up@example.com", f"{name}up", PASSWORD)
    reader = account_over_http(base, f"{name}-read@example.com", f"{name}read", PASSWORD)
    for i in range(20):
        files = {"image": ("photo.jpg", data, "image/jpeg")}
        answer = requests.post(
            f"{base}/api/images/upload/",
            files=files,
            data={"title": f"{i}"},
            headers={"Authorization": f"Bearer {reader}"},
        )
        answer.raise_for_status()
    image_id = answer.json()["id"]
    body = work / "body.bin"
    body.write_bytes(multipart(data))
    scripts = {}
    for label, text, tok in (("upload", LUA_UPLOAD, token), ("get", LUA_GET, reader)):
        path = work / f"{name}-{label}.lua"
        path.write_text(text.format(body=body, boundary=BOUNDARY, token=tok))
        scripts[label] = path
    return {
        "upload": (f"{base}/api/images/upload/", scripts["upload"]),
        "list": (f"{base}/api/images/", scripts["get"]),
        "detail": (f"{base}/api/images/{image_id}/", scripts["get"]),
    }


def processing_states(database_url: str, settle: float = 60) -> dict[str, int]:
    """How many images are ready, pending or failed, once the pending count stops falling (at most `settle` s)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        deadline, last = time.monotonic() + settle, None
        while True:
            states = dict(conn.execute("SELECT processing, count(*) FROM images_image GROUP BY 1").fetchall())
            if states.get("pending", 0) == last or time.monotonic() > deadline:
                return states
            last = states.get("pending", 0)
            time.sleep(5)


def rss_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (the peak since the last reset) of a process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field + ":")))


def rss_growth(stack: Stack, cwd: Path, env: dict[str, str], name: str, small: bytes, big: bytes) -> float:
    """MiB the peak RSS of a warmed-up sync worker grows by across one upload of `big`."""
    base = stack.gunicorn(cwd, env, workers=1, name=f"{name}-rss")
    master = stack.processes[-1].pid
    token = account_over_http(base, f"{name}-rss@example.com", f"{name}rss", PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # imports, connections, first allocations
        files = {"image": ("warm.jpg", small, "image/jpeg")}
        requests.post(f"{base}/api/images/upload/", files=files, headers=headers).raise_for_status()
        requests.get(f"{base}/api/images/", headers=headers).raise_for_status()
    pid = child_pids(master)[0]
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak (VmHWM) starts again from the RSS now
    before = rss_kib(pid, "VmRSS")
    files = {"image": ("big.jpg", big, "image/jpeg")}
    requests.post(f"{base}/api/images/upload/", files=files, headers=headers).raise_for_status()
    time.sleep(0.5)
    growth = (rss_kib(pid, "VmHWM") - before) / 1024
    stack.processes.pop().terminate()
    return growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", type=Path, help="folder of the upstream's checkout")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis base URL (databases 2, 3 used)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds of wrk per endpoint and run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    parser.add_argument("--only", choices=["throughput", "rss"], help="one phase only")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="this service as `make run` has it: no broker, no Redis (variants made "
        "by the API process after each answer); counts the images made and left pending after the runs",
    )
    args = parser.parse_args()

    stack = Stack()
    try:
        for db in (2, 3):
            redis.Redis.from_url(f"{args.redis}/{db}").flushdb()
        data = photo_jpeg(1600, 1200)
        ours_env = service_env(stack.database(f"bench_ours_{os.getpid()}"), args.redis, stack.work / "media")
        if args.embedded:
            ours_env.update(CELERY_BROKER_URL="", REDIS_URL="")
        if args.storage == "s3":
            ours_env.update(stack.seaweedfs())
        upstream_env = {
            "DEBUG": "False",
            "SECRET_KEY": "bench-only-upstream",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DB_NAME": f"bench_upstream_{os.getpid()}",
            "DB_USER": "postgres",
            "DB_PASSWORD": "",
            "DB_HOST": "127.0.0.1",
            "DB_PORT": "5432",
            "MEDIA_ROOT": str(stack.work / "upstream-media"),
        }
        stack.database(upstream_env["DB_NAME"])
        if args.only != "rss":
            throughput(stack, args, ours_env, upstream_env, data)
        if args.only != "throughput":
            big = photo_jpeg(3000, 2250, 98)
            print(f"\nPeak RSS growth of one upload of a {3000 * 2250 / 1e6:.2f} MP, {len(big) / 2**20:.1f} MiB JPEG:")
            for name, cwd, env in (("this service", ROOT, ours_env), ("upstream", args.upstream, upstream_env)):
                growths = [rss_growth(stack, cwd, env, f"{name[:4]}{i}", data, big) for i in range(args.runs)]
                listed = ", ".join(f"+{g:.1f}" for g in growths)
                print(f"- {name}: {listed} MiB (median +{statistics.median(growths):.1f})")
    finally:
        stack.close()
        for db in (2, 3):
            redis.Redis.from_url(f"{args.redis}/{db}").flushdb()


def throughput(stack: Stack, args, ours_env: dict, upstream_env: dict, data: bytes) -> None:
    """wrk against each endpoint of both, in turn, `args.runs` times; the table of medians and ratios."""
    services = {
        "this service": prepare(stack.gunicorn(ROOT, ours_env, name="ours"), stack.work, "ours", data),
        "upstream": prepare(stack.gunicorn(args.upstream, upstream_env, name="upstream"), stack.work, "upstream", data),
    }
    rates: dict[str, dict[str, list[float]]] = {name: {} for name in services}
    for run in range(args.runs):
        for endpoint in ("upload", "list", "detail"):
            for name, targets in services.items():
                url, script = targets[endpoint]
                rates[name].setdefault(endpoint, []).append(wrk(url, script, args.duration, args.connections))
        print(f"run {run + 1} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    if args.embedded:
        print(f"images after the runs, by state: {processing_states(ours_env['DATABASE_URL'])}")

    print(
        f"\nwrk -c{args.connections} -d{args.duration}s, {args.runs} runs, gunicorn -w 2 sync, PostgreSQL, "
        f"this service's files on {args.storage}; load average now {os.getloadavg()[0]:.2f}\n"
    )
    print("| endpoint | this service (req/s) | upstream (req/s) | ratio per run | median ratio |")
    print("| --- | ---: | ---: | --- | ---: |")
    for endpoint in ("upload", "list", "detail"):
        ours, theirs = rates["this service"][endpoint], rates["upstream"][endpoint]
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        print(
            f"| {endpoint} | {statistics.median(ours):.0f} | {statistics.median(theirs):.0f} | "
            f"{', '.join(f'{r:.2f}' for r in ratios)} | {statistics.median(ratios):.2f}x |"
        )
    for process in stack.processes[-2:]:
        process.terminate()


if __name__ == "__main__":
    main()
