"""What the shipped defaults recover from, with real processes: lost jobs, dead processes, a hung store, a burst.

Jobs: a Redis broker of the test's own, killed and started again empty. Dead processes: a real Python process
that dies (os._exit, no clean-up) between writing a file and committing its row, or between committing a
deletion and removing its files. A hung store: the test SeaweedFS stopped with SIGSTOP. A burst: completions
beyond IMAGE_DIRECT_UPLOAD_CONCURRENCY while the one admitted waits for a worker that does not come.
"""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import redis
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from images.errors import StoredFileClaimed
from images.files import deletions_retry, file_store_uncommitted
from images.models import Image, StoredFileDeletion
from images.services import image_insert, variants_schedule_many
from images.sweep import images_requeue_lost
from testutils import (
    PROJECT,
    UPLOAD_URL,
    bearer,
    current_database_url,
    image_bytes,
    kill,
    login,
    start_redis,
    wait_until,
)

pytestmark = pytest.mark.django_db


def queued(url: str) -> int:
    """Jobs waiting in the broker's default queue."""
    return redis.Redis.from_url(url).llen("celery")


# --- Jobs the broker lost ----------------------------------------------------------------------------------


def test_a_backlog_is_never_queued_twice_and_jobs_lost_with_redis_are_queued_once(
    user, private_broker, tmp_path, django_capture_on_commit_callbacks, request
):
    url, process = private_broker
    # The broker's start is read from its uptime, in whole seconds, and taken a second late to be never early: jobs
    # published in its first two seconds may be judged lost; past them, none is misjudged.
    wait_until(lambda: redis.Redis.from_url(url).info()["uptime_in_seconds"] >= 3, "Redis up for 3 s")
    images = Image.objects.bulk_create(
        [Image(user=user, image=f"images/{user.pk}/{n}.png", title=str(n)) for n in range(2000)]
    )
    with django_capture_on_commit_callbacks(execute=True):
        variants_schedule_many([image.pk for image in images])
    assert queued(url) == 2000  # no worker: a backlog of 2,000 jobs

    with django_capture_on_commit_callbacks(execute=True):
        assert images_requeue_lost() == 0
    assert queued(url) == 2000  # held by a live broker: left alone

    kill(process)  # Redis dies with its queue (no persistence), and comes back empty
    process = start_redis(urlsplit(url).port, tmp_path)
    request.addfinalizer(lambda: process.poll() is None and kill(process))  # also when an assertion fails
    assert queued(url) == 0
    wait_until(lambda: redis.Redis.from_url(url).info()["uptime_in_seconds"] >= 3, "Redis up for 3 s")
    with django_capture_on_commit_callbacks(execute=True):
        assert images_requeue_lost() == 2000
    assert queued(url) == 2000
    with django_capture_on_commit_callbacks(execute=True):
        assert images_requeue_lost() == 0  # queued again once, not at every sweep
    assert queued(url) == 2000
    assert set(Image.objects.values_list("processing_requeues", flat=True)) == {0}  # not the images' fault


def test_a_job_the_broker_never_got_is_queued_by_the_next_sweep_not_after_15_minutes(
    auth_client, dead_broker, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            UPLOAD_URL, {"image": SimpleUploadedFile("a.png", image_bytes())}, format="multipart"
        )

    assert response.status_code == 201 and response.json()["processing"] == "pending"
    image = Image.objects.get()
    assert image.processing_queued_at is None  # the publish failed, and the row says so

    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True  # the broker is back (here: tasks run inline)
    with django_capture_on_commit_callbacks(execute=True):
        assert images_requeue_lost() == 1
    image.refresh_from_db()
    assert image.processing == "ready" and image.processing_queued_at is not None


# --- A process that dies half-way -----------------------------------------------------------------------------


def run_and_die(code: str, media_root, database_url: str) -> subprocess.CompletedProcess:
    """Run Django code in a process of its own that ends with os._exit: no clean-up, no on_commit, as a kill."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media_root),
        "USE_S3": "False",
    }
    script = f"import django, os\ndjango.setup()\n{code}\nos._exit(9)\n"
    return subprocess.run([sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True)


@pytest.mark.django_db(transaction=True)
def test_a_file_whose_process_died_before_its_row_is_removed_by_the_sweeper(user, media_root):
    name = f"images/{user.pk}/died-before-its-row.png"
    died = run_and_die(
        "from django.core.files.base import ContentFile\n"
        "from django.core.files.storage import default_storage\n"
        "from images.files import file_store_uncommitted\n"
        f"file_store_uncommitted(default_storage, {name!r}, ContentFile(b'bytes of an image'))",
        media_root,
        current_database_url(),
    )

    assert died.returncode == 9, died.stderr
    assert (media_root / name).exists() and not Image.objects.exists()  # an orphan, for now
    assert deletions_retry()["deleted"] == 0  # its upload might still be committing: left alone a while
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert deletions_retry() == {"deleted": 1, "deletions_left": 0}
    assert not (media_root / name).exists()


@pytest.mark.django_db(transaction=True)
def test_files_of_a_deletion_whose_process_died_after_commit_are_removed_by_the_sweeper(upload, media_root):
    body = upload()
    image = Image.objects.get(pk=body["id"])
    names = [image.image.name, *image.variants.values()]
    assert all((media_root / name).exists() for name in names)

    died = run_and_die(
        "from django.db import transaction\n"
        "from images.models import Image\n"
        "from images.services import image_delete\n"
        "with transaction.atomic():\n"
        "    transaction.on_commit(lambda: os._exit(9))  # dies after the commit, before the files go\n"
        f"    image_delete(Image.objects.get(pk={image.pk}))",
        media_root,
        current_database_url(),
    )

    assert died.returncode == 9, died.stderr
    assert not Image.objects.filter(pk=image.pk).exists()
    assert all((media_root / name).exists() for name in names)  # orphans, for now
    assert deletions_retry() == {"deleted": len(names), "deletions_left": 0}
    assert not any((media_root / name).exists() for name in names)


def test_a_row_too_slow_for_the_sweeper_is_not_saved_and_its_file_goes(user, media_root, settings):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = file_store_uncommitted(default_storage, f"images/{user.pk}/slow.png", ContentFile(image_bytes()))
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):  # its upload stalled past the grace
        deletions_retry()

    with pytest.raises(StoredFileClaimed):
        image_insert(Image(user=user, image=name, size=10))

    assert not Image.objects.exists() and not StoredFileDeletion.objects.exists()
    assert not (media_root / name).exists()


def test_an_upload_that_stores_its_file_leaves_no_record_behind(upload):
    upload()

    assert not StoredFileDeletion.objects.exists()


# --- A hung store ---------------------------------------------------------------------------------------------


def test_an_upload_to_a_hung_store_is_a_json_503_within_its_budget(hung_store, auth_client, settings):
    from botocore.config import Config as BotoConfig

    # Without the budget, ten attempts of a second each: ten seconds and more.
    hung = BotoConfig(
        s3={"addressing_style": "path"}, connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 10}
    )
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": hung_store.storage_options(client_config=hung)},
    }
    settings.AWS_S3_REQUEST_BUDGET = 2

    started = time.monotonic()
    response = auth_client.post(UPLOAD_URL, {"image": SimpleUploadedFile("a.png", image_bytes())}, format="multipart")
    took = time.monotonic() - started

    assert response.status_code == 503, response.content
    assert response.json() == {"detail": "The file storage is unavailable. Try again later."}
    assert response.headers["Retry-After"]
    assert took < 6, f"{took:.1f} s"  # the budget (2 s) and the attempt under way (1 s), not ten attempts
    assert not Image.objects.exists()


# --- A burst of completions -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_completions_beyond_the_concurrency_get_a_503_at_once_while_one_waits(user, broker, settings):
    settings.IMAGE_DIRECT_UPLOAD_VERIFY_IN_WORKER = True
    settings.IMAGE_DIRECT_UPLOAD_VERIFY_WAIT = 2  # no worker runs: the admitted one verifies itself after 2 s
    settings.IMAGE_DIRECT_UPLOAD_CONCURRENCY = 1
    client = bearer(login(APIClient(), user.email)["access"])
    uploads = []
    for n in range(2):
        data = image_bytes(color=("red", "blue")[n])
        signed = client.post("/api/images/uploads/", {"filename": "a.png", "size": len(data)}, format="json").json()
        fields = {**signed["fields"], "file": SimpleUploadedFile("a.png", data, content_type="image/png")}
        assert APIClient().post(signed["url"], fields, format="multipart").status_code == 204
        uploads.append(signed["id"])
    answers: dict[str, object] = {}

    def complete(upload_id: str) -> None:
        try:
            answers[upload_id] = client.post(f"/api/images/uploads/{upload_id}/complete/", format="json")
        finally:
            connection.close()

    waiting = threading.Thread(target=complete, args=(uploads[0],))
    waiting.start()
    time.sleep(0.5)  # the first one holds the only slot, waiting for a worker
    started = time.monotonic()
    complete(uploads[1])
    refused_after = time.monotonic() - started
    waiting.join(timeout=30)

    busy = answers[uploads[1]]
    assert busy.status_code == 503 and busy.json()["code"] == "completions_busy"
    assert busy.headers["Retry-After"] == "2"
    assert refused_after < 1, f"{refused_after:.2f} s"  # at once, not after the other's wait
    assert answers[uploads[0]].status_code == 201
    retried = client.post(f"/api/images/uploads/{uploads[1]}/complete/", format="json")
    assert retried.status_code == 201
    assert Image.objects.count() == 2
