"""USE_S3 for real: the API against a running S3 server (SeaweedFS) over HTTP, no mocks."""

import re
import time
import urllib.request
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from images.models import Image
from testutils import LIST_URL, UPLOAD_URL, UUID, delete_url, detail_url, fetch, image_bytes, use_storage

pytestmark = pytest.mark.django_db


def test_upload_stores_a_private_object_at_the_spec_key_with_the_detected_content_type(s3_storage, auth_client, user):
    data = image_bytes("JPEG", size=(40, 30))
    file = SimpleUploadedFile("Beach Day.jpeg", data, content_type="text/plain")

    response = auth_client.post(UPLOAD_URL, {"image": file, "title": "Beach"}, format="multipart")

    assert response.status_code == 201
    image = Image.objects.get(pk=response.json()["id"])
    assert re.fullmatch(rf"images/{user.pk}/{UUID}_Beach_Day\.jpeg", image.image.name)
    assert s3_storage.keys() == [image.image.name]
    stored = s3_storage.client().get_object(Bucket=s3_storage.bucket, Key=image.image.name)
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/jpeg"
    assert stored["CacheControl"] == "private, max-age=86400"


def test_the_presigned_url_serves_the_bytes_and_the_unsigned_url_is_refused(s3_storage, auth_client, upload):
    data = image_bytes("PNG", size=(20, 20))
    body = upload(SimpleUploadedFile("p.png", data, content_type="image/png"))

    url = body["image"]
    assert url.startswith(f"{s3_storage.endpoint}/{s3_storage.bucket}/images/")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url
    assert fetch(url) == (200, data)
    status, _ = fetch(url.split("?", 1)[0])
    assert status == 403


def test_a_presigned_url_asks_the_store_for_the_files_image_type_whatever_the_object_carries(s3_storage):
    # An object stored with another type (by an older release, by hand): served as what its name says it is.
    s3_storage.client().put_object(
        Bucket=s3_storage.bucket,
        Key="images/1/x_page.png",
        Body=b"<html><script>alert(1)</script>",
        ContentType="text/html",
    )

    url = default_storage.url("images/1/x_page.png")

    assert "response-content-type=image%2Fpng" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == "image/png"


def test_a_presigned_url_stops_working_when_it_expires(s3_storage, upload):
    body = upload()
    name = Image.objects.get(pk=body["id"]).image.name

    url = default_storage.url(name, expire=1)
    time.sleep(2.1)

    assert fetch(url)[0] == 403


def test_list_and_detail_give_presigned_urls(s3_storage, auth_client, upload):
    body = upload(title="one")

    listed = auth_client.get(LIST_URL).json()
    detail = auth_client.get(detail_url(body["id"])).json()

    assert [item["id"] for item in listed] == [body["id"]]
    for item in (listed[0], detail):
        assert item["image_url"].startswith(f"{s3_storage.endpoint}/{s3_storage.bucket}/images/")
        assert "X-Amz-Signature=" in item["image"]
        assert fetch(item["image_url"])[0] == 200


def test_delete_removes_the_object_after_commit(s3_storage, auth_client, upload, django_capture_on_commit_callbacks):
    gone = upload()
    kept = upload()

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(delete_url(gone["id"]))

    assert response.status_code == 204
    assert s3_storage.keys() == [Image.objects.get(pk=kept["id"]).image.name]


def test_another_user_cannot_reach_the_object(s3_storage, other_client, upload):
    body = upload()
    name = Image.objects.get(pk=body["id"]).image.name

    assert other_client.get(detail_url(body["id"])).status_code == 404
    assert other_client.delete(delete_url(body["id"])).status_code == 404
    assert other_client.get(LIST_URL).json() == []
    assert s3_storage.keys() == [name]


@pytest.mark.parametrize(
    "broken",
    [
        {"endpoint_url": "http://127.0.0.1:9"},  # nothing listens there: the store is down
        {"secret_key": "wrong-secret"},  # the store refuses the signature
    ],
    ids=["store-down", "wrong-secret"],
)
def test_a_store_error_on_upload_is_a_json_503_and_saves_nothing(s3_storage, auth_client, make_image, settings, broken):
    use_storage(settings, **s3_storage.storage_options(**broken))

    response = auth_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart")

    assert response.status_code == 503
    assert response.json() == {"detail": "The file storage is unavailable. Try again later."}
    assert not Image.objects.exists()
    assert s3_storage.keys() == []


def test_a_store_error_on_delete_is_a_503_and_keeps_row_and_object(
    s3_storage, auth_client, upload, settings, django_capture_on_commit_callbacks
):
    body = upload()
    use_storage(settings, **s3_storage.storage_options(endpoint_url="http://127.0.0.1:9"))

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(delete_url(body["id"]))

    assert response.status_code == 503
    assert Image.objects.filter(pk=body["id"]).exists()
    assert len(s3_storage.keys()) == 1


def test_a_failed_database_write_removes_the_object_it_stored(s3_storage, user):
    existing = Image.objects.create(user=user, image=SimpleUploadedFile("a.png", image_bytes()))

    with pytest.raises(IntegrityError):
        Image(pk=existing.pk, user=user, image=SimpleUploadedFile("b.png", image_bytes())).save(force_insert=True)

    assert s3_storage.keys() == [existing.image.name]


def test_check_warns_when_s3_is_on_without_credentials_or_bucket(settings):
    use_storage(settings, bucket_name="", access_key="", secret_key="")

    ids = {message.id for message in run_checks()}

    assert {"images.E001", "images.W001", "images.W002"} <= ids


def test_check_is_quiet_when_s3_is_fully_configured(s3_storage):
    assert not [m for m in run_checks() if m.id.startswith("images.")]


# --- migrate_media_to_s3 ------------------------------------------------------------------------


@pytest.fixture
def local_tree(media_root):
    """Three files under MEDIA_ROOT, as USE_S3=False would have stored them."""
    local = FileSystemStorage(location=media_root)
    files = {
        "images/1/0b7d3c6e-aaaa-4bbb-8ccc-000000000001_a.png": image_bytes("PNG"),
        "images/1/0b7d3c6e-aaaa-4bbb-8ccc-000000000002_b.jpg": image_bytes("JPEG"),
        "images/2/0b7d3c6e-aaaa-4bbb-8ccc-000000000003_c.gif": image_bytes("GIF"),
    }
    for name, data in files.items():
        local.save(name, SimpleUploadedFile(name, data))
    return files


def migrate(settings, s3_server, *args: str) -> str:
    settings.S3_STORAGE_OPTIONS = s3_server.storage_options()
    out = StringIO()
    call_command("migrate_media_to_s3", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_migrate_media_copies_the_local_tree_under_the_same_keys(s3_storage, settings, local_tree):
    output = migrate(settings, s3_storage)

    assert "Copied 3, skipped 0 already in the bucket, failed 0." in output
    assert s3_storage.keys() == sorted(local_tree)
    client = s3_storage.client()
    content_types = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif"}
    for key, data in local_tree.items():
        stored = client.get_object(Bucket=s3_storage.bucket, Key=key)
        assert stored["Body"].read() == data
        assert stored["ContentType"] == content_types[key.rpartition(".")[2]]


def test_migrate_media_is_idempotent_and_resumes(s3_storage, settings, local_tree):
    first = sorted(local_tree)[0]
    s3_storage.client().put_object(Bucket=s3_storage.bucket, Key=first, Body=local_tree[first])

    assert "Copied 2, skipped 1" in migrate(settings, s3_storage)
    assert "Copied 0, skipped 3" in migrate(settings, s3_storage)
    assert s3_storage.keys() == sorted(local_tree)


def test_migrate_media_dry_run_copies_nothing(s3_storage, settings, local_tree):
    output = migrate(settings, s3_storage, "--dry-run")

    assert "Would copy 3, skipped 0" in output
    assert all(f"Would copy {key}" in output for key in local_tree)
    assert s3_storage.keys() == []


def test_migrate_media_reports_failures_and_exits_non_zero(s3_storage, settings, local_tree):
    settings.S3_STORAGE_OPTIONS = s3_storage.storage_options(secret_key="wrong-secret")

    with pytest.raises(CommandError, match="3 file\\(s\\) failed"):
        call_command("migrate_media_to_s3", stdout=StringIO(), stderr=StringIO())
    assert s3_storage.keys() == []


# --- Variants on S3 -------------------------------------------------------------------------------


def test_variants_are_stored_beside_the_original_as_private_webp_objects(
    s3_storage, auth_client, upload, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = upload(SimpleUploadedFile("p.png", image_bytes("PNG", size=(600, 300))))
    image = Image.objects.get(pk=body["id"])

    assert s3_storage.keys() == sorted(image.stored_names())
    client = s3_storage.client()
    for name, key in image.variants.items():
        assert key == image.image.name.rpartition(".")[0] + f".{name}.webp"
        assert client.head_object(Bucket=s3_storage.bucket, Key=key)["ContentType"] == "image/webp"
    detail = auth_client.get(detail_url(body["id"])).json()
    status, data = fetch(detail["variants"]["thumbnail"]["url"])
    assert status == 200 and data[:4] == b"RIFF"
    assert fetch(detail["variants"]["thumbnail"]["url"].split("?", 1)[0])[0] == 403

    with django_capture_on_commit_callbacks(execute=True):
        auth_client.delete(delete_url(body["id"]))
    assert s3_storage.keys() == []


def test_variant_storage_errors_are_retried_then_marked_failed(s3_storage, upload, settings):
    from images.tasks import make_variants

    body = upload()  # stored; its transaction never commits, so no task ran yet
    settings.IMAGE_TASK_MAX_RETRIES = 2
    use_storage(settings, **s3_storage.storage_options(endpoint_url="http://127.0.0.1:9"))

    make_variants.delay(body["id"])

    image = Image.objects.get(pk=body["id"])
    assert (image.processing, image.variants) == ("failed", {})


def test_presigned_urls_are_reused_from_the_cache_and_work(s3_storage, auth_client, upload):
    uploaded = upload()  # its URL signed once, without a look in the cache, and cached for the reads after

    first = auth_client.get(LIST_URL).json()[0]
    second = auth_client.get(LIST_URL).json()[0]

    assert uploaded["image"] == first["image"] == first["image_url"] == second["image"]
    assert fetch(second["image"])[0] == 200
    name = Image.objects.get().image.name
    assert default_storage.url(name, expire=60) != first["image"]  # explicit arguments: signed afresh
