"""CPU time the API process spends per upload of a ~6 MB photo: proxied (POST /api/images/upload/) vs direct
(sign, the client POSTs to S3, complete). Issue 12.

A real server: gunicorn (one sync worker) in front of SeaweedFS, SQLite in a temp folder, variants queued
to Redis (database 13, flushed; no worker runs, so neither path pays for variants). The CPU time is the
worker's and the master's user + system time from /proc, read before and after each batch; the client's
own work (building the body, POSTing to S3) is not in it. /proc counts in ticks (10 ms here): use --runs 10+.

Both paths verify the bytes in the API process with the same full decode (the issue's "same rules as the
proxied upload"), and the decode is most of either cost: the bench prints it, so the ratio reads against it.

Run by hand: .venv/bin/python bench/direct_upload_cpu.py [--runs N]
Needs Redis on 127.0.0.1:6379 and the `weed` binary of requirements-dev.txt.
"""
import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import redis
import requests
from botocore.config import Config
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BROKER = "redis://127.0.0.1:6379/13"
KEY, SECRET, BUCKET = "bench-key", "bench-secret", "bench-images"
PASSWORD = "Bench-Password-1"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def photo(target_bytes: int = 6_000_000) -> bytes:
    """A photo-like JPEG (a gradient with noise) of about `target_bytes`."""
    width, height = 4000, 3000
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    img = Image.merge("RGB", (gradient, noise, Image.blend(gradient, noise, 0.5)))
    data = b""
    for quality in range(70, 100):
        buffer = io.BytesIO()
        img.save(buffer, "JPEG", quality=quality)
        data = buffer.getvalue()
        if len(data) >= target_bytes:
            break
    return data


def decode_cpu(data: bytes, runs: int = 5) -> float:
    """CPU seconds of one full Pillow decode of the photo: the verification's floor, on either path."""
    started = time.process_time()
    for _ in range(runs):
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    return (time.process_time() - started) / runs


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (/proc/PID/stat fields 14 and 15)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    work = Path(tempfile.mkdtemp(prefix="direct-upload-bench-"))
    s3_port, api_port = free_port(), free_port()
    endpoint, api = f"http://127.0.0.1:{s3_port}", f"http://127.0.0.1:{api_port}"
    processes: list[subprocess.Popen] = []
    try:
        weed_env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
        processes.append(subprocess.Popen(
            [str(BIN / "weed"), "mini", f"-dir={work}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-s3.port={s3_port}", "-master.telemetry=false", "-admin.ui=false", f"-bucket={BUCKET}"],
            cwd=work, env=weed_env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        ))
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                          region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
        wait_for(lambda: s3.head_bucket(Bucket=BUCKET) or True, "SeaweedFS")

        env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "False",
            "SECRET_KEY": "bench-only-" + "x" * 50, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "False",
            "DB_NAME": "", "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}", "MEDIA_ROOT": str(work / "media"),
            "USE_S3": "True", "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_ENDPOINT_URL": endpoint, "AWS_S3_ADDRESSING_STYLE": "path",
            "CELERY_BROKER_URL": BROKER, "REDIS_URL": "", "THROTTLE_UPLOAD_RATE": "100000/min",
            "THROTTLE_LOGIN_RATE": "100000/min", "LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
        subprocess.run([*manage, "shell", "-c", "from users.models import User; User.objects.create_user("
                        f"email='bench@example.com', username='bench', password='{PASSWORD}')"],
                       env=env, check=True, cwd=ROOT)
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{api_port}",
             "--workers", "1", "--timeout", "120"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        processes.append(server)
        wait_for(lambda: requests.get(f"{api}/api/health/", timeout=2).status_code < 600, "gunicorn")
        session = requests.Session()
        token = session.post(f"{api}/api/auth/login/", json={"email": "bench@example.com", "password": PASSWORD},
                             timeout=30).json()["access"]
        session.headers["Authorization"] = f"Bearer {token}"
        pids = [server.pid, *children(server.pid)]
        data = photo()

        def proxied() -> None:
            response = session.post(f"{api}/api/images/upload/", files={"image": ("photo.jpg", data)}, timeout=120)
            assert response.status_code == 201, response.text

        steps: dict[str, list[float]] = {"sign": [], "complete": []}

        def direct() -> None:
            before = cpu_seconds(pids)
            signed = session.post(f"{api}/api/images/uploads/", json={"filename": "photo.jpg", "size": len(data)},
                                  timeout=30).json()
            steps["sign"].append(cpu_seconds(pids) - before)
            sent = requests.post(signed["url"], data=signed["fields"], files={"file": ("photo.jpg", data)}, timeout=120)
            assert sent.status_code == 204, sent.text
            before = cpu_seconds(pids)
            response = session.post(f"{api}/api/images/uploads/{signed['id']}/complete/", timeout=120)
            steps["complete"].append(cpu_seconds(pids) - before)
            assert response.status_code == 201, response.text

        proxied(), direct()  # warm up: imports, connections
        results = {}
        for label, upload in (("proxied", proxied), ("direct", direct)):
            per_upload, walls = [], []
            for _ in range(runs):
                before, started = cpu_seconds(pids), time.perf_counter()
                upload()
                walls.append(time.perf_counter() - started)
                per_upload.append(cpu_seconds(pids) - before)
            results[label] = (statistics.mean(per_upload), statistics.median(walls))
        redis.Redis.from_url(BROKER).flushdb()

        print(f"A {len(data) / 1e6:.1f} MB JPEG (4000x3000), {runs} uploads each; API CPU = gunicorn master + worker.")
        for label, (cpu, wall) in results.items():
            print(f"  {label:8} API CPU {cpu * 1000:7.1f} ms per upload (client wall time median {wall * 1000:.0f} ms)")
        print("  direct, by step: " + ", ".join(
            f"{step} {statistics.mean(values[-runs:]) * 1000:.1f} ms" for step, values in steps.items()))
        ratio = results["proxied"][0] / results["direct"][0] if results["direct"][0] else float("inf")
        print(f"  direct costs the API {ratio:.1f}x less CPU than proxied")
        print(f"  the full decode both paths run to verify the bytes (here): {decode_cpu(data) * 1000:.1f} ms")
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
