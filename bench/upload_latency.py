"""Upload latency through the real endpoint, with variants made inline (no broker) or queued to Redis.

Run by hand: .venv/bin/python bench/upload_latency.py [--runs N]
Needs Redis on 127.0.0.1:6379 (uses database 13, flushed). SQLite and MEDIA_ROOT in a temp folder.
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="upload-bench-"))
BROKER = "redis://127.0.0.1:6379/13"
sys.path.insert(0, str(ROOT))
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings",
    DB_NAME="",
    DATABASE_URL=f"sqlite:///{WORK / 'db.sqlite3'}",
    MEDIA_ROOT=str(WORK / "media"),
    ALLOWED_HOSTS="testserver",
    THROTTLE_UPLOAD_RATE="100000/min",
    USE_S3="False",
    CELERY_BROKER_URL="",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from config.celery import app  # noqa: E402
from testutils import login, photo_jpeg  # noqa: E402
from users.models import User  # noqa: E402


def time_uploads(client: Client, token: str, data: bytes, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        started = time.perf_counter()
        response = client.post(
            "/api/images/upload/",
            {"image": io.BytesIO(data), "title": f"run {i}"},
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        times.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs

    call_command("migrate", verbosity=0)
    User.objects.create_user(email="bench@example.com", username="bench", password="Bench-Password-1")
    client = Client()
    token = login(APIClient(), "bench@example.com", "Bench-Password-1")["access"]
    queue = redis.Redis.from_url(BROKER)
    for label, size in (("12 MP JPEG", (4000, 3000)), ("2 MP JPEG", (1600, 1200))):
        data = photo_jpeg(*size)
        app.conf.update(task_always_eager=True)
        inline = time_uploads(client, token, data, runs)
        queue.flushdb()
        app.conf.update(task_always_eager=False, broker_url=BROKER)
        queued = time_uploads(client, token, data, runs)
        queue.flushdb()
        print(
            f"{label} ({len(data) / 1e6:.1f} MB), {runs} uploads each: "
            f"no broker (variants inline) median {statistics.median(inline) * 1000:.0f} ms; "
            f"Redis broker (queued) median {statistics.median(queued) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
