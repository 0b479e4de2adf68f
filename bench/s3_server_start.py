"""How long SeaweedFS (the S3 test server) takes to answer head_bucket, and to stop.

Run by hand: .venv/bin/python bench/s3_server_start.py [RUNS]
"""

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's root: testutils
from testutils import S3Server, free_port, start_weed, terminate  # noqa: E402


def one_run() -> tuple[float, float]:
    """Start weed as the test fixture does; the seconds until its bucket answers, and until it has stopped."""
    workdir = Path(tempfile.mkdtemp(prefix="weed-bench-"))
    server = S3Server(f"http://127.0.0.1:{free_port()}", "bench", "bench-secret", "bench-bucket")
    started = time.monotonic()
    process = start_weed(workdir, server)
    try:
        server.wait_for_bucket(process)
        ready = time.monotonic() - started
        stopping = time.monotonic()
        terminate(process)
        return ready, time.monotonic() - stopping
    finally:
        terminate(process)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = [one_run() for _ in range(runs)]
    ready, stop = zip(*results, strict=True)
    print(
        f"{runs} runs: ready median {statistics.median(ready):.2f} s (max {max(ready):.2f}), "
        f"stop median {statistics.median(stop):.2f} s"
    )
