"""How long SeaweedFS (the S3 test server) takes to answer head_bucket, and to stop.

Run by hand: .venv/bin/python bench/s3_server_start.py [RUNS]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

WEED = Path(sys.executable).with_name("weed")
PORT = 18333


def one_run() -> tuple[float, float]:
    workdir = tempfile.mkdtemp(prefix="weed-bench-")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}
    command = [
        str(WEED),
        "mini",
        f"-dir={workdir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={PORT}",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-bucket=bench-bucket",
    ]
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{PORT}",
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    while True:
        try:
            client.head_bucket(Bucket="bench-bucket")
            break
        except Exception:
            time.sleep(0.05)
    ready = time.monotonic() - started
    stopping = time.monotonic()
    process.terminate()
    process.wait()
    return ready, time.monotonic() - stopping


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = [one_run() for _ in range(runs)]
    ready, stop = zip(*results, strict=True)
    print(
        f"{runs} runs: ready median {statistics.median(ready):.2f} s (max {max(ready):.2f}), "
        f"stop median {statistics.median(stop):.2f} s"
    )
