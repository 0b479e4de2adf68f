"""Latency of GET /api/images/ with 100 images on S3 (SeaweedFS), with and without the URL cache.

Run by hand: .venv/bin/python bench/list_latency.py [--images N] [--runs N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="list-bench-"))
PORT = 18334
sys.path.insert(0, str(ROOT))
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings",
    DB_NAME="",
    DATABASE_URL=f"sqlite:///{WORK / 'db.sqlite3'}",
    ALLOWED_HOSTS="testserver",
    USE_S3="True",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench-secret",
    AWS_STORAGE_BUCKET_NAME="bench-bucket",
    AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{PORT}",
    AWS_S3_ADDRESSING_STYLE="path",
    CELERY_BROKER_URL="",
    REDIS_URL="",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

import boto3  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from images.models import Image  # noqa: E402
from users.models import User  # noqa: E402


def start_s3() -> subprocess.Popen:
    weed = Path(sys.executable).with_name("weed")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}
    process = subprocess.Popen(
        [
            str(weed),
            "mini",
            f"-dir={WORK}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={PORT}",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-bucket=bench-bucket",
        ],
        cwd=WORK,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{PORT}",
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
        region_name="us-east-1",
    )
    while True:
        try:
            client.head_bucket(Bucket="bench-bucket")
            return process
        except Exception:
            time.sleep(0.1)


def timed_lists(client: Client, token: str, runs: int, clear_cache: bool) -> list[float]:
    times = []
    for _ in range(runs):
        if clear_cache:
            cache.clear()
        started = time.perf_counter()
        response = client.get("/api/images/", HTTP_AUTHORIZATION=f"Bearer {token}")
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    s3 = start_s3()
    try:
        call_command("migrate", verbosity=0)
        user = User.objects.create_user(email="bench@example.com", username="bench", password="Bench-Password-1")
        variants = {"thumbnail": "images/1/x.thumbnail.webp", "medium": "images/1/x.medium.webp"}
        Image.objects.bulk_create(
            Image(user=user, image=f"images/{user.pk}/{i:04d}_photo.jpg", variants=variants, processing="ready")
            for i in range(args.images)
        )
        client = Client()
        token = client.post(
            "/api/auth/login/",
            {"email": "bench@example.com", "password": "Bench-Password-1"},
            content_type="application/json",
        ).json()["access"]
        results = {
            "URLs signed every time (S3Storage)": None,
            "cache cold (first list)": timed_lists(client, token, args.runs, clear_cache=True),
            "cache warm": timed_lists(client, token, args.runs, clear_cache=False),
        }
        plain = {
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": django.conf.settings.STORAGES["default"]["OPTIONS"],
            },
            "staticfiles": django.conf.settings.STORAGES["staticfiles"],
        }
        with override_settings(STORAGES=plain):
            results["URLs signed every time (S3Storage)"] = timed_lists(client, token, args.runs, clear_cache=True)
        for label, times in results.items():
            print(
                f"GET /api/images/ ({args.images} images, 4 URLs each), {label}: "
                f"median {statistics.median(times) * 1000:.0f} ms over {args.runs} runs"
            )
    finally:
        s3.terminate()
        s3.wait()


if __name__ == "__main__":
    main()
