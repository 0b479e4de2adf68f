"""End to end with the production shape: a real Redis broker and a real Celery worker process."""
import os
import subprocess
import sys
import time

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from config.celery import app
from images.models import Image
from testutils import PROJECT, TEST_BROKER_URL, image_bytes


def database_url() -> str:
    """The test database as a URL a separate process can open."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    host, port = db["HOST"] or "localhost", db["PORT"] or 5432
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def broker():
    """Publish tasks to the real Redis test broker (an emptied database of its own), not inline."""
    server = redis.Redis.from_url(TEST_BROKER_URL)
    server.flushdb()
    app.conf.task_always_eager = False
    yield TEST_BROKER_URL
    app.conf.task_always_eager = True
    server.flushdb()


@pytest.fixture
def worker(broker, media_root):
    """Start `celery worker` against the broker, the test database and the test MEDIA_ROOT."""
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(media_root),
        "USE_S3": "False",
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
               "--without-heartbeat", "--without-mingle", "--without-gossip"]
    log = media_root.parent / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT)
    yield log
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_worker_makes_the_variants_after_the_upload_returns(broker, upload, media_root, request):
    body = upload(SimpleUploadedFile("p.jpg", image_bytes("JPEG", size=(1200, 900)), content_type="image/jpeg"))

    # The upload returned at once; the task waits in Redis for a worker.
    assert body["processing"] == "pending"
    assert body["variants"] == {"thumbnail": None, "medium": None}

    log = request.getfixturevalue("worker")
    deadline = time.monotonic() + 60
    image = Image.objects.get(pk=body["id"])
    while image.processing == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
        image.refresh_from_db()

    assert image.processing == "ready", log.read_text()[-3000:]
    assert set(image.variants) == {"thumbnail", "medium"}
    assert all((media_root / key).is_file() for key in image.variants.values())
