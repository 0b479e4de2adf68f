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
sys.path.insert(0, str(ROOT))
from testutils import S3Server, free_port, login, start_weed, terminate  # noqa: E402

STORE = S3Server(f"http://127.0.0.1:{free_port()}", "bench", "bench-secret", "bench-bucket")
os.environ.update(**STORE.service_env())
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings",
    DB_NAME="",
    DATABASE_URL=f"sqlite:///{WORK / 'db.sqlite3'}",
    ALLOWED_HOSTS="testserver",
    CELERY_BROKER_URL="",
    REDIS_URL="",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from images.models import Image  # noqa: E402
from users.models import User  # noqa: E402


def start_s3() -> subprocess.Popen:
    process = start_weed(WORK / "weed", STORE)
    STORE.wait_for_bucket(process, timeout=90)
    return process


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
        token = login(APIClient(), "bench@example.com", "Bench-Password-1")["access"]
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
        terminate(s3)


if __name__ == "__main__":
    main()
