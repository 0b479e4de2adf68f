"""What an outage or a crash can leave behind, and what finds and mends it.

A broker that refuses connections on upload, deletions racing the variants job, a job run twice or after
a crash, deletions the store refused, images stuck pending, and the reconcile command, on local storage
and on the S3 server.
"""

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone
from storages.backends.s3 import S3Storage

from images.models import Image, StoredFileDeletion
from images.services import build_variants, image_delete, variants_render, variants_store
from testutils import LIST_URL, UPLOAD_URL, detail_url, image_bytes, names_in_store

pytestmark = pytest.mark.django_db


# --- The broker down on upload ---------------------------------------------------------------------


def test_an_upload_with_the_broker_down_answers_201_and_the_sweeper_makes_its_variants(
    auth_client, make_image, dead_broker, settings, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the queuing after commit: refused
        response = auth_client.post(UPLOAD_URL, {"image": make_image(), "title": "later"}, format="multipart")

    assert response.status_code == 201  # the row and the file are committed: the answer says so
    body = response.json()
    assert body["processing"] == "pending"
    image = Image.objects.get(pk=body["id"])
    assert default_storage.exists(image.image.name)
    assert "Could not queue the variants of image" in caplog.text

    # Later, with the broker back (tasks inline here) and the image pending past the timeout:
    from config.celery import app

    app.conf.task_always_eager = True
    settings.IMAGE_PENDING_TIMEOUT = 0
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("sweep_images", stdout=out)

    assert "Queued again 1 image(s), marked 0 failed" in out.getvalue()
    shown = auth_client.get(detail_url(image.pk)).json()
    assert shown["processing"] == "ready"
    assert all(shown["variants"].values())


def test_a_failed_upload_leaves_nothing_while_the_broker_is_down(auth_client, dead_broker, stored_files):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    response = auth_client.post(UPLOAD_URL, {"image": bad}, format="multipart")

    assert response.status_code == 400
    assert not Image.objects.exists()
    assert stored_files() == []


# --- Deletions racing the variants job (forced timings) ----------------------------------------------


@pytest.fixture
def pending_image(auth_client, make_image, dead_broker) -> Image:
    """An uploaded image whose variants job has not run (its broker is down)."""
    response = auth_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart")
    assert response.status_code == 201
    return Image.objects.get(pk=response.json()["id"])


def test_a_delete_that_read_the_row_before_the_job_recorded_its_variants_removes_them(
    store, pending_image, django_capture_on_commit_callbacks
):
    read_by_the_delete = Image.objects.get(pk=pending_image.pk)  # variants {}: not made yet
    build_variants(Image.objects.get(pk=pending_image.pk))  # the job runs to the end meanwhile
    assert len(names_in_store()) == 3

    with django_capture_on_commit_callbacks(execute=True):
        image_delete(read_by_the_delete)

    assert names_in_store() == set()


def test_a_job_that_started_before_the_delete_removes_what_it_wrote_after(
    store, pending_image, django_capture_on_commit_callbacks
):
    read_by_the_job = Image.objects.get(pk=pending_image.pk)
    rendered = variants_render(read_by_the_job)  # the job has read the original and encoded
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(Image.objects.get(pk=pending_image.pk))
    assert names_in_store() == set()

    variants_store(read_by_the_job, rendered)  # writes its variants, then finds its row gone

    assert names_in_store() == set()


# --- The job run twice, or after a crash --------------------------------------------------------------


def test_a_job_run_again_after_a_crash_replaces_what_it_left_and_never_duplicates(store, pending_image):
    left_by_the_crash = pending_image.variant_names()["medium"]
    default_storage.save(left_by_the_crash, ContentFile(b"half-written"))

    build_variants(Image.objects.get(pk=pending_image.pk))
    build_variants(Image.objects.get(pk=pending_image.pk))  # delivered a second time

    image = Image.objects.get(pk=pending_image.pk)
    assert image.variants == image.variant_names()
    assert names_in_store() == {image.image.name, *image.variants.values()}
    with default_storage.open(left_by_the_crash) as medium:
        assert medium.read(4) == b"RIFF"  # a WebP now, not what the crash left


# --- Deletions the store refused --------------------------------------------------------------------


def test_deletions_the_store_refused_are_recorded_and_the_sweeper_does_them(s3_storage, upload, settings):
    body = upload()
    image = Image.objects.get(pk=body["id"])
    names = image.stored_names()
    dead_store = S3Storage(**{**s3_storage.storage_options(), "endpoint_url": "http://127.0.0.1:9"})

    StoredFileDeletion.objects.delete_files(dead_store, names)  # the store is down as the deletion commits

    assert set(StoredFileDeletion.objects.values_list("name", flat=True)) == set(names)
    assert image.image.name in names_in_store()
    out = io.StringIO()
    call_command("sweep_images", stdout=out)  # the store is back

    assert f"deleted {len(names)} file(s) left from earlier deletions, 0 left" in out.getvalue()
    assert not StoredFileDeletion.objects.exists()
    assert names_in_store() == set()


# --- Images stuck pending ------------------------------------------------------------------------------


def test_the_sweeper_requeues_stuck_images_then_marks_those_that_keep_failing(pending_image, settings, auth_client):
    settings.IMAGE_PENDING_TIMEOUT = 600
    settings.IMAGE_SWEEP_MAX_REQUEUES = 2
    Image.objects.filter(pk=pending_image.pk).update(processing_queued_at=timezone.now() - timedelta(minutes=5))
    out = io.StringIO()

    call_command("sweep_images", stdout=out)  # pending for 5 minutes: not stuck yet
    assert "Queued again 0 image(s), marked 0 failed" in out.getvalue()

    for requeues in (1, 2):  # still no broker: queued again, still pending
        Image.objects.filter(pk=pending_image.pk).update(processing_queued_at=timezone.now() - timedelta(minutes=11))
        call_command("sweep_images", stdout=out)
        image = Image.objects.get(pk=pending_image.pk)
        assert (image.processing, image.processing_requeues) == ("pending", requeues)

    Image.objects.filter(pk=pending_image.pk).update(processing_queued_at=timezone.now() - timedelta(minutes=11))
    call_command("sweep_images", stdout=out)

    assert "marked 1 failed" in out.getvalue()
    assert auth_client.get(LIST_URL).json()[0]["processing"] == "failed"


# --- Reconcile: check_storage ----------------------------------------------------------------------------


def check_storage(*args: str) -> tuple[str, str | None]:
    """Run check_storage; return its output and its error (None when it exits 0)."""
    out = io.StringIO()
    try:
        call_command("check_storage", *args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def test_check_storage_is_quiet_and_exits_zero_when_rows_and_store_agree(
    store, upload, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload()

    out, error = check_storage()

    assert error is None
    assert (
        "3 object(s), 1 image(s): 0 orphan(s) (0 younger than 3600 s, left alone), 0 missing original(s), "
        "0 missing variant(s)." in out
    )


def test_check_storage_finds_orphans_and_fix_deletes_the_old_ones(store, upload, user):
    upload()
    orphan = default_storage.save(f"images/{user.pk}/left-by-a-crash.png", ContentFile(image_bytes()))

    out, error = check_storage()
    assert "1 orphaned object(s):" in out and orphan in out
    assert "1 orphan(s) (1 younger than 3600 s, left alone)" in out
    assert error is None  # young: maybe an upload still in progress

    out, error = check_storage("--grace", "0")
    assert error is not None
    assert default_storage.exists(orphan)  # only reported

    out, error = check_storage("--grace", "0", "--fix")
    assert "Fixed: deleted 1 orphan(s)" in out
    assert error is None
    assert not default_storage.exists(orphan)
    assert check_storage("--grace", "0")[1] is None


def test_check_storage_finds_missing_variants_and_fix_makes_them_again(
    store, upload, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = upload()
    image = Image.objects.get(pk=body["id"])
    default_storage.delete(image.variants["thumbnail"])

    out, error = check_storage()
    assert "1 ready image(s) missing a variant:" in out
    assert error is not None

    with django_capture_on_commit_callbacks(execute=True):
        out, error = check_storage("--fix")

    assert error is None
    assert default_storage.exists(image.variants["thumbnail"])
    assert Image.objects.get(pk=image.pk).processing == "ready"


def test_check_storage_reports_a_missing_original_and_exits_non_zero(store, upload):
    body = upload()
    image = Image.objects.get(pk=body["id"])
    default_storage.delete(image.image.name)

    out, error = check_storage("--fix")

    assert f"1 image(s) whose original is missing:\n  {image.pk}\n" in out
    assert error == "The store and the rows disagree; see above."
