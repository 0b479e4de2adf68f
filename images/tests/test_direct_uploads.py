"""Direct uploads: sign, POST the file straight to the store, complete; on the S3 server and on local disk.

The S3 tests POST to the real SeaweedFS with `requests`, as any client would: the store itself enforces
the signed policy. The local tests POST the same form to the service's own signed URL.
"""

import base64
import hashlib
import io
import json
import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from images.direct_uploads import direct_upload_complete, direct_upload_verify
from images.errors import UploadNotReceived
from images.models import DirectUpload, Image
from images.quota import usage_recount
from testutils import (
    LIST_URL,
    MAKER_NOTE,
    UPLOAD_URL,
    UUID,
    detail_url,
    fetch,
    image_bytes,
    log_tail,
    names_in_store,
    phone_photo,
    wait_until,
)

pytestmark = pytest.mark.django_db

UPLOADS_URL = "/api/images/uploads/"
NOT_AN_IMAGE = "Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image."


def complete_url(upload_id: str) -> str:
    return f"/api/images/uploads/{upload_id}/complete/"


def sign(client: APIClient, filename: str = "beach.jpg", size: int = 1000, **fields):
    return client.post(UPLOADS_URL, {"filename": filename, "size": size, **fields}, format="json")


def send(signed: dict, data: bytes, filename: str = "beach.jpg", **field_overrides) -> tuple[int, str]:
    """POST the signed fields and the file to the signed URL, as a client would; return (status, body text).

    An absolute URL of the test server (the local store) goes through Django's test client, anything else
    over HTTP. A signed PUT is sent as one (`put`), the overrides then being headers.
    """
    if signed["method"] == "PUT":
        response = put(signed, data, **field_overrides)
        return response.status_code, response.text
    fields = {**signed["fields"], **field_overrides}
    url = signed["url"]
    if url.startswith("http://testserver/"):
        body = {**fields, "file": io.BytesIO(data)}
        body["file"].name = filename
        response = APIClient().post(urlsplit(url).path, body, format="multipart")
        return response.status_code, response.content.decode()
    response = requests.post(url, data=fields, files={"file": (filename, data)}, timeout=10)
    return response.status_code, response.text


def put(signed: dict, data: bytes, url: str = "", **header_overrides: str) -> requests.Response:
    """PUT the bytes to the signed URL with the signed headers, as a client would (`url` and headers overridden).

    The local store's URL goes through Django's test client; the answer is given the shape of a requests one.
    """
    url = url or signed["url"]
    headers = {**signed["headers"], **header_overrides}
    if not url.startswith("http://testserver/"):
        return requests.put(url, data=data, headers=headers, timeout=10)
    content_type = headers.pop("Content-Type", "")
    extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    parts = urlsplit(url)
    answer = APIClient().generic("PUT", f"{parts.path}?{parts.query}", data, content_type=content_type, **extra)
    response = requests.Response()
    response.status_code, response._content = answer.status_code, answer.content
    response.headers.update(answer.headers)
    return response


def policy_of(signed: dict) -> dict:
    return json.loads(base64.b64decode(signed["fields"]["policy"]))


# --- Signing ------------------------------------------------------------------------------------------


def test_signing_answers_a_presigned_post_of_one_key_that_the_store_enforces(s3_storage, auth_client, user, settings):
    before = timezone.now()

    response = sign(auth_client, "Beach Day.jpg", 123456, title="Beach")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "method", "url", "fields", "expires_at"}
    assert body["method"] == "POST"  # the default
    assert body["url"] == f"{s3_storage.endpoint}/{s3_storage.bucket}"
    key = body["fields"]["key"]
    assert re.fullmatch(rf"uploads/{user.pk}/{UUID}_Beach_Day\.jpg", key)  # apart from images/ until verified
    assert body["fields"]["Content-Type"] == "image/jpeg"
    conditions = policy_of(body)["conditions"]
    assert {"key": key} in conditions
    assert ["content-length-range", 1, 123456] in conditions  # the declared size, which the quota counts
    assert ["starts-with", "$Content-Type", "image/"] in conditions
    expires = DirectUpload.objects.get(pk=body["id"]).expires_at
    assert timedelta(seconds=299) <= expires - before <= timedelta(seconds=302)
    assert body["expires_at"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    upload = DirectUpload.objects.get()
    assert (upload.user, upload.key, upload.size, upload.title, upload.image) == (user, key, 123456, "Beach", None)
    assert Image.objects.count() == 0 and s3_storage.keys() == []  # signed, nothing stored


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"filename": "a.jpg", "size": 0}, {"size"}),
        ({"filename": "a.jpg", "size": 10 * 1024 * 1024 + 1}, {"size"}),
        ({"filename": "", "size": 10}, {"filename"}),
        ({"size": 10}, {"filename"}),
        ({"filename": "a.jpg", "size": 10, "title": "x" * 256}, {"title"}),
    ],
)
def test_signing_refuses_a_bad_declaration(auth_client, fields, errors):
    response = auth_client.post(UPLOADS_URL, fields, format="json")

    assert response.status_code == 400
    assert set(response.json()) == errors
    assert DirectUpload.objects.count() == 0


def test_signing_needs_a_token_and_is_throttled_with_the_upload_scope(api_client, auth_client, low_rates):
    assert sign(api_client).status_code == 401
    assert [sign(auth_client).status_code for _ in range(3)] == [201, 201, 429]
    assert auth_client.post(UPLOAD_URL, {}, format="multipart").status_code == 429  # the same scope


def test_with_tagging_on_the_object_is_tagged_pending_by_the_policy(s3_storage, auth_client, settings):
    settings.IMAGE_DIRECT_UPLOAD_TAGGING = True

    body = sign(auth_client).json()

    tagging = "<Tagging><TagSet><Tag><Key>upload</Key><Value>pending</Value></Tag></TagSet></Tagging>"
    assert body["fields"]["tagging"] == tagging
    assert {"tagging": tagging} in policy_of(body)["conditions"]


# --- The store enforces the policy (SeaweedFS) ----------------------------------------------------------


def test_the_store_refuses_a_body_over_the_range(s3_storage, auth_client, settings):
    settings.IMAGE_MAX_UPLOAD_SIZE = 1000
    signed = sign(auth_client, size=900).json()

    status, text = send(signed, image_bytes("PNG", (200, 200), color="blue") + b"\0" * 1000)

    assert status == 400 and "EntityTooLarge" in text
    assert s3_storage.keys() == []


def test_the_store_refuses_another_key(s3_storage, auth_client, user):
    signed = sign(auth_client).json()
    other = f"images/{user.pk}/chosen-by-the-client.png"

    status, text = send(signed, image_bytes(), key=other)

    assert status == 403 and "AccessDenied" in text
    assert s3_storage.keys() == []


def test_the_store_refuses_a_content_type_that_is_not_an_image(s3_storage, auth_client):
    signed = sign(auth_client).json()

    status, text = send(signed, image_bytes(), **{"Content-Type": "text/html"})

    assert status == 403 and "AccessDenied" in text
    assert s3_storage.keys() == []


def test_the_store_refuses_an_expired_policy(s3_storage, auth_client, settings):
    settings.IMAGE_DIRECT_UPLOAD_EXPIRE = 1
    signed = sign(auth_client).json()
    time.sleep(2.1)

    status, text = send(signed, image_bytes())

    assert status == 403 and "expired" in text
    assert s3_storage.keys() == []


# --- Complete -------------------------------------------------------------------------------------------


def test_a_completed_upload_is_listed_with_working_presigned_urls_and_variants(
    s3_storage, auth_client, user, django_capture_on_commit_callbacks
):
    data = image_bytes("PNG", (300, 200), color="green")
    signed = sign(auth_client, "Holiday.jpg", len(data), title="Holiday", description="Sea").json()
    assert send(signed, data, "Holiday.jpg")[0] == 204  # S3's answer to a good POST

    with django_capture_on_commit_callbacks(execute=True):  # the variants, made inline after commit
        response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 201
    body = response.json()
    image = Image.objects.get()
    # The same body as the proxied upload's, for the same bytes.
    proxied = auth_client.post(UPLOAD_URL, {"image": io.BytesIO(data)}, format="multipart").json()
    assert set(body) == set(proxied)
    assert {k: body[k] for k in ("width", "height", "format", "mime_type", "size", "checksum")} == {
        k: proxied[k] for k in ("width", "height", "format", "mime_type", "size", "checksum")
    }
    assert (body["id"], body["title"], body["description"]) == (image.pk, "Holiday", "Sea")
    # A key of its own (the policy cannot reach it), named by the detected format; the pending key is gone.
    assert re.fullmatch(rf"images/{user.pk}/{UUID}_Holiday\.png", image.image.name)
    assert image.image.name != signed["fields"]["key"]
    head = s3_storage.client().head_object(Bucket=s3_storage.bucket, Key=image.image.name)
    assert head["ContentType"] == "image/png"  # the POST said image/jpeg: the bytes decide
    assert head["CacheControl"] == "private, max-age=86400"
    assert signed["fields"]["key"] not in s3_storage.keys()
    assert DirectUpload.objects.get().image == image

    listed = auth_client.get(LIST_URL).json()
    item = next(entry for entry in listed if entry["id"] == image.pk)
    assert item["processing"] == "ready"
    assert fetch(item["image_url"]) == (200, data)
    for variant in ("thumbnail", "medium"):
        status, content = fetch(item["variants"][variant]["url"])
        assert status == 200 and content[:4] == b"RIFF"
    assert item["variants"]["thumbnail"]["width"] == 256
    assert auth_client.get(detail_url(image.pk)).json()["image_url"].startswith(s3_storage.endpoint)


def test_completing_twice_answers_the_same_image(store, auth_client, django_capture_on_commit_callbacks):
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")

    with django_capture_on_commit_callbacks(execute=True):  # the pending key goes once the image commits
        first = auth_client.post(complete_url(signed["id"]), format="json")
    second = auth_client.post(complete_url(signed["id"]), format="json")

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert Image.objects.count() == 1
    image = Image.objects.get()
    assert names_in_store() == {image.image.name, *image.variants.values()}  # no pending key, no second copy


def test_another_users_upload_is_a_404_and_stays_pending(store, auth_client, other_client):
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")

    response = other_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 404
    assert Image.objects.count() == 0
    assert DirectUpload.objects.get().image is None
    assert names_in_store() == {signed["fields"]["key"]}


def test_an_invalid_file_is_refused_with_the_upload_message_and_deleted(
    store, auth_client, refused, django_capture_on_commit_callbacks
):
    data = b"GIF89a but not really an image at all"
    signed = sign(auth_client, "fake.gif", len(data)).json()
    assert send(signed, data, "fake.gif")[0] in (201, 204)
    assert names_in_store() == {signed["fields"]["key"]}

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 400
    # The proxied upload's own message for the same bytes.
    assert response.json() == {"image": refused(SimpleUploadedFile("fake.gif", data, content_type="image/gif"))}
    assert response.json() == {"image": [NOT_AN_IMAGE]}
    assert Image.objects.count() == 0 and DirectUpload.objects.count() == 0
    assert names_in_store() == set()
    assert auth_client.post(complete_url(signed["id"]), format="json").status_code == 404


def test_a_file_over_the_pixel_cap_is_refused_on_completion(
    store, auth_client, settings, django_capture_on_commit_callbacks
):
    settings.IMAGE_MAX_PIXELS = 100
    data = image_bytes("PNG", (20, 20))
    signed = sign(auth_client, "big.png", len(data)).json()
    send(signed, data, "big.png")

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 400
    assert "too many pixels" in response.json()["image"][0]
    assert names_in_store() == set() and Image.objects.count() == 0


def test_completing_before_the_file_arrives_is_409_and_after_expiry_410(store, auth_client):
    signed = sign(auth_client).json()

    early = auth_client.post(complete_url(signed["id"]), format="json")
    assert early.status_code == 409
    assert early.json()["code"] == "upload_not_received"
    assert DirectUpload.objects.filter(pk=signed["id"]).exists()  # it can still arrive

    DirectUpload.objects.filter(pk=signed["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    late = auth_client.post(complete_url(signed["id"]), format="json")

    assert late.status_code == 410
    assert late.json() == {
        "detail": "The upload expired before its file arrived; start a new upload.",
        "code": "upload_expired",
    }
    assert DirectUpload.objects.count() == 0 and Image.objects.count() == 0
    assert auth_client.post(complete_url(signed["id"]), format="json").status_code == 404


def test_a_file_that_arrived_before_expiry_can_still_be_completed(store, auth_client):
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")
    DirectUpload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert auth_client.post(complete_url(signed["id"]), format="json").status_code == 201


def test_complete_needs_a_token(api_client, auth_client):
    signed = sign(auth_client).json()

    assert api_client.post(complete_url(signed["id"]), format="json").status_code == 401


# --- Abandoned uploads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["sweep_images", "sweep_direct_uploads"])
def test_an_abandoned_upload_is_swept_with_its_object(
    store, auth_client, settings, command, django_capture_on_commit_callbacks
):
    data = image_bytes()
    abandoned = sign(auth_client, "a.png", len(data)).json()
    send(abandoned, data, "a.png")
    never_sent = sign(auth_client).json()
    young = sign(auth_client, "b.png", len(data)).json()
    send(young, data, "b.png")
    # Expired over IMAGE_DIRECT_UPLOAD_EXPIRE ago: abandoned. Expired just now: may still complete.
    DirectUpload.objects.filter(pk__in=[abandoned["id"], never_sent["id"]]).update(
        expires_at=timezone.now() - timedelta(seconds=settings.IMAGE_DIRECT_UPLOAD_EXPIRE + 1)
    )
    DirectUpload.objects.filter(pk=young["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(command, stdout=out)

    assert "2 abandoned direct upload(s)" in out.getvalue()
    assert set(DirectUpload.objects.values_list("pk", flat=True)) == {DirectUpload.objects.get(pk=young["id"]).pk}
    assert names_in_store() == {young["fields"]["key"]}


@pytest.mark.parametrize("then", ["completed", "completed and its image deleted"])
def test_a_post_again_after_completion_stores_bytes_that_the_sweep_removes(
    s3_storage, auth_client, settings, then, django_capture_on_commit_callbacks
):
    """The attack: an S3 presigned POST cannot be revoked, and works again until its policy expires. What it
    puts at the upload's key is no image and in no quota: the next sweep deletes it."""
    data = image_bytes("PNG", (40, 30))
    signed = sign(auth_client, "a.png", len(data)).json()
    key = signed["fields"]["key"]
    assert send(signed, data, "a.png")[0] == 204
    with django_capture_on_commit_callbacks(execute=True):
        image = auth_client.post(complete_url(signed["id"]), format="json").json()
        if then != "completed":
            assert auth_client.delete(detail_url(image["id"])).status_code == 204
    kept = names_in_store()
    usage = auth_client.get("/api/auth/me/").json()["usage"]
    assert key not in kept

    assert send(signed, b"\0" * len(data), "a.png")[0] == 204  # accepted again: up to the declared size
    assert send(signed, b"\0" * (len(data) + 1), "a.png")[0] == 400  # and no more (EntityTooLarge)
    assert names_in_store() == kept | {key}
    assert auth_client.get("/api/auth/me/").json()["usage"] == usage

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("sweep_images", stdout=out)

    assert "1 object(s) under uploads/ that no open upload owns" in out.getvalue()
    assert names_in_store() == kept  # gone; the image and its variants, if any, untouched
    if then == "completed":
        assert fetch(auth_client.get(detail_url(image["id"])).json()["image_url"]) == (200, data)


def test_check_storage_counts_an_open_upload_as_owned_until_it_is_abandoned(store, auth_client, settings):
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")

    out = io.StringIO()
    call_command("check_storage", "--grace", "0", stdout=out)
    assert "0 orphan(s)" in out.getvalue()

    DirectUpload.objects.update(expires_at=timezone.now() - timedelta(seconds=settings.IMAGE_DIRECT_UPLOAD_EXPIRE + 1))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_storage", "--grace", "0", stdout=out)
    assert signed["fields"]["key"] in out.getvalue()


def test_deleting_a_user_deletes_their_pending_upload_and_its_object(
    store, auth_client, user, django_capture_on_commit_callbacks
):
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    assert DirectUpload.objects.count() == 0
    assert names_in_store() == set()


# --- The local store: the service's own signed URL -----------------------------------------------------------


def test_the_same_flow_on_local_storage(auth_client, user, media_root, django_capture_on_commit_callbacks):
    data = image_bytes("JPEG", (64, 48))

    signed = sign(auth_client, "Garden.jpeg", len(data), title="Garden").json()

    assert signed["url"] == "http://testserver/api/images/uploads/local/"
    assert set(signed["fields"]) == {"key", "Content-Type", "policy"}
    key = signed["fields"]["key"]
    assert re.fullmatch(rf"uploads/{user.pk}/{UUID}_Garden\.jpeg", key)
    assert send(signed, data, "Garden.jpeg") == (204, "")
    assert (media_root / key).read_bytes() == data

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 201
    image = Image.objects.get()
    assert response.json()["image"].startswith(f"/media/{image.image.name}?")  # signed
    assert APIClient().get(response.json()["image"]).getvalue() == data
    assert re.fullmatch(rf"images/{user.pk}/{UUID}_Garden\.jpeg", image.image.name)
    assert (media_root / image.image.name).read_bytes() == data
    assert not (media_root / key).exists()
    listed = auth_client.get(LIST_URL).json()
    assert [(item["id"], item["title"], item["processing"]) for item in listed] == [(image.pk, "Garden", "ready")]
    assert names_in_store() == {image.image.name, *image.variants.values()}


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"key": "images/1/chosen-by-the-client.png"}, 403, "Policy condition failed: key."),
        ({"Content-Type": "text/html"}, 403, "Content-Type must start with image/"),
        ({"policy": "forged"}, 403, "signature"),
    ],
)
def test_the_local_store_enforces_the_same_conditions(auth_client, overrides, status, message, media_root):
    signed = sign(auth_client).json()

    got, text = send(signed, image_bytes(), **overrides)

    assert got == status and message in text
    assert json.loads(text)["code"] == "policy_refused"
    assert not (media_root / "images").exists()


def test_the_local_store_refuses_a_body_over_the_range_an_empty_one_and_an_expired_policy(
    auth_client, settings, media_root
):
    settings.IMAGE_MAX_UPLOAD_SIZE = 1000
    signed = sign(auth_client, size=900).json()
    assert send(signed, b"\0" * 1001)[0] == 400
    assert send(signed, b"")[0] == 400

    settings.IMAGE_DIRECT_UPLOAD_EXPIRE = 1
    expiring = sign(auth_client).json()
    time.sleep(1.1)
    got, text = send(expiring, image_bytes())

    assert (got, json.loads(text)["detail"]) == (403, "Policy expired.")
    assert not (media_root / "images").exists()


def test_the_local_store_refuses_a_post_once_the_upload_is_completed(
    auth_client, media_root, django_capture_on_commit_callbacks
):
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(complete_url(signed["id"]), format="json")

    got, text = send(signed, data, "a.png")

    assert (got, json.loads(text)["detail"]) == (403, "This upload is no longer open.")
    assert not (media_root / signed["fields"]["key"]).exists()


# --- The OpenAPI description ------------------------------------------------------------------------------


def test_the_schema_describes_signing_and_completion_as_json_operations(schema):
    start = schema["paths"]["/api/images/uploads/"]["post"]
    complete = schema["paths"]["/api/images/uploads/{id}/complete/"]["post"]

    assert list(start["requestBody"]["content"]) == ["application/json"]
    assert {"201", "400", "401", "409", "429", "503"} <= set(start["responses"])
    assert "requestBody" not in complete
    assert {"201", "400", "401", "404", "409", "410", "503"} <= set(complete["responses"])
    upload = schema["paths"]["/api/images/upload/"]["post"]

    def answered(operation: dict) -> dict:
        ref = operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
        return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]

    assert answered(complete).keys() == answered(upload).keys()  # the same body as the proxied upload
    quota = schema["components"]["schemas"]["QuotaExceeded"]
    assert set(quota["properties"]) == set(quota["required"]) == {"detail", "code", "usage", "size"}
    for operation in (start, complete, upload):
        body = operation["responses"]["409"]["content"]["application/json"]["schema"]
        if body["$ref"] != "#/components/schemas/QuotaExceeded":  # one of several answers
            body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
        refs = [body.get("$ref")] + [item["$ref"] for item in body.get("oneOf", [])]
        assert "#/components/schemas/QuotaExceeded" in refs


# --- The same rules as the proxied upload: metadata stripped, verified email, duplicates -------------------


def test_a_direct_upload_loses_its_metadata_as_a_proxied_one_does(
    store, auth_client, upload, settings, django_capture_on_commit_callbacks
):
    assert settings.IMAGE_STRIP_METADATA
    data = phone_photo("JPEG")
    signed = sign(auth_client, "phone.jpg", len(data)).json()
    send(signed, data, "phone.jpg")

    with django_capture_on_commit_callbacks(execute=True):  # the pending key goes once the image commits
        body = auth_client.post(complete_url(signed["id"]), format="json").json()
    proxied = upload(SimpleUploadedFile("phone.jpg", data, content_type="image/jpeg"))

    image = Image.objects.get(pk=body["id"])
    with default_storage.open(image.image.name, "rb") as stored:
        kept = stored.read()
    assert MAKER_NOTE not in kept and b"GPSLatitude" not in kept and kept != data
    assert (body["checksum"], body["upload_checksum"]) == (proxied["checksum"], proxied["upload_checksum"])
    assert hashlib.sha256(kept).hexdigest() == body["checksum"]
    assert names_in_store() >= {image.image.name} and signed["fields"]["key"] not in names_in_store()


def test_signing_and_completing_wait_for_a_verified_email_when_required(auth_client, user, settings):
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")
    settings.REQUIRE_VERIFIED_EMAIL = True

    assert sign(auth_client).status_code == 403
    assert auth_client.post(complete_url(signed["id"]), format="json").status_code == 403
    assert Image.objects.count() == 0

    user.email_verified = True
    user.save()
    assert auth_client.post(complete_url(signed["id"]), format="json").status_code == 201


@pytest.mark.parametrize(("policy", "status"), [("refuse", 409), ("reuse", 200)])
def test_bytes_the_user_already_has_follow_image_duplicates(
    store, auth_client, upload, settings, policy, status, django_capture_on_commit_callbacks
):
    data = image_bytes("PNG", (30, 30), color="blue")
    first = upload(SimpleUploadedFile("a.png", data, content_type="image/png"))
    settings.IMAGE_DUPLICATES = policy
    signed = sign(auth_client, "again.png", len(data)).json()
    send(signed, data, "again.png")

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == status
    if policy == "refuse":
        assert response.json() == {
            "image": [f"You already have this image (id {first['id']})."],
            "existing_id": first["id"],
        }
    else:
        assert response.json()["id"] == first["id"]
    assert Image.objects.count() == 1 and DirectUpload.objects.count() == 0
    assert signed["fields"]["key"] not in names_in_store()


# --- Verified by a worker: the API process queues the verification and waits for its verdict --------------


@pytest.fixture
def verify_in_worker(settings, broker) -> None:
    settings.IMAGE_DIRECT_UPLOAD_VERIFY_IN_WORKER = True
    settings.IMAGE_DIRECT_UPLOAD_VERIFY_WAIT = 60  # a worker is running: never give up on it in these tests


@pytest.mark.django_db(transaction=True)
def test_a_worker_verifies_while_the_api_waits(verify_in_worker, worker, auth_client, media_root, caplog):
    data = image_bytes("JPEG", (640, 480))
    signed = sign(auth_client, "Garden.jpg", len(data), title="Garden").json()

    early = auth_client.post(complete_url(signed["id"]), format="json")  # the worker finds nothing yet
    assert (early.status_code, early.json()["code"]) == (409, "upload_not_received")
    assert send(signed, data, "Garden.jpg") == (204, "")
    response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 201, log_tail(worker)
    image = Image.objects.get()
    assert response.json()["id"] == image.pk and response.json()["title"] == "Garden"
    assert (image.width, image.height, image.format) == (640, 480, "JPEG")
    assert DirectUpload.objects.get().image == image
    assert (media_root / image.image.name).read_bytes() == data
    # The worker deletes the pending key once the image commits, and logs its task's end after that.
    wait_until(lambda: not (media_root / signed["fields"]["key"]).exists(), "the pending key deleted")
    wait_until(
        lambda: len(re.findall(r"verify_direct_upload\[[^]]+\] succeeded", worker.read_text())) == 2,
        "both verifications logged as done",
    )
    assert "verifying here" not in caplog.text  # this process did not verify
    assert auth_client.post(complete_url(signed["id"]), format="json").json()["id"] == image.pk


@pytest.mark.django_db(transaction=True)
def test_a_worker_refuses_invalid_bytes_with_the_upload_message_and_nothing_is_left(
    verify_in_worker, worker, auth_client, media_root, caplog
):
    data = b"GIF89a but not really an image at all"
    signed = sign(auth_client, "fake.gif", len(data)).json()
    send(signed, data, "fake.gif")

    response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 400, log_tail(worker)
    assert response.json() == {"image": [NOT_AN_IMAGE]}
    assert Image.objects.count() == 0 and DirectUpload.objects.count() == 0
    assert not (media_root / signed["fields"]["key"]).exists()
    assert "verifying here" not in caplog.text
    assert auth_client.post(complete_url(signed["id"]), format="json").status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("worker_settings", "code"),
    [
        ({"IMAGE_DUPLICATES": "refuse"}, "duplicate"),
        ({"IMAGE_USER_QUOTA_BYTES": "1000"}, "quota_exceeded"),
    ],
)
def test_a_workers_duplicate_and_quota_refusals_reach_the_client(
    verify_in_worker, worker_settings, worker, auth_client, settings, media_root, code
):
    data = image_bytes("PNG", (30, 30), color="blue")
    signed = sign(auth_client, "again.png", len(data)).json()
    send(signed, data, "again.png")
    # An image with these bytes, taking the whole quota of the second case.
    first = Image.objects.create(
        user=DirectUpload.objects.get().user,
        image="images/x.png",
        size=1000,
        checksum=hashlib.sha256(data).hexdigest(),
        width=30,
        height=30,
    )
    usage_recount()  # a row made behind the services' back: its owner's totals counted again from the rows

    response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 409, log_tail(worker)
    if code == "duplicate":
        assert response.json() == {"image": [f"You already have this image (id {first.pk})."], "existing_id": first.pk}
        assert DirectUpload.objects.count() == 0 and not (media_root / signed["fields"]["key"]).exists()
    else:  # the upload stays: delete images and complete again
        assert response.json()["code"] == "quota_exceeded" and response.json()["usage"]["quota_bytes"] == 1000
        assert DirectUpload.objects.filter(image=None).count() == 1
        assert (media_root / signed["fields"]["key"]).read_bytes() == data
    assert Image.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_no_worker_free_the_api_verifies_after_the_wait_and_the_late_worker_changes_nothing(
    verify_in_worker, settings, auth_client, media_root, caplog, request
):
    settings.IMAGE_DIRECT_UPLOAD_VERIFY_WAIT = 1
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")

    started = time.monotonic()
    response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 201 and time.monotonic() - started >= 1
    assert "No worker verified upload" in caplog.text
    log = request.getfixturevalue("worker")  # the queued verification now runs: the image is already there
    succeeded = re.compile(r"verify_direct_upload\[[^]]+\] succeeded")
    wait_until(lambda: succeeded.search(log.read_text()), "the late verification", timeout=30, log=log)
    image = Image.objects.get()
    assert image.pk == response.json()["id"] and DirectUpload.objects.get().image == image
    assert (media_root / image.image.name).read_bytes() == data


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_api_verifies_at_once(dead_broker, settings, auth_client, caplog):
    settings.IMAGE_DIRECT_UPLOAD_VERIFY_IN_WORKER = True
    data = image_bytes()
    signed = sign(auth_client, "a.png", len(data)).json()
    send(signed, data, "a.png")

    response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 201
    assert "Could not queue the verification" in caplog.text
    assert Image.objects.get().pk == response.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_a_final_verdict_recorded_after_the_view_read_the_upload_is_still_answered(
    dead_broker, settings, auth_client, media_root
):
    # The window after a wait that timed out: the view read the upload with a passing verdict (a worker found
    # no file at the first try), then a late worker refused the file that came since, recorded "invalid" and
    # deleted it. The completion answers that refusal; it must not clear it and report the file missing.
    settings.IMAGE_DIRECT_UPLOAD_VERIFY_IN_WORKER = True
    data = b"GIF89a but not really an image at all"
    signed = sign(auth_client, "fake.gif", len(data)).json()
    with pytest.raises(UploadNotReceived):
        direct_upload_verify(signed["id"], answering=False)  # the worker's first verdict: not received
    read_by_the_view = DirectUpload.objects.get()
    send(signed, data, "fake.gif")
    with pytest.raises(ValidationError):
        direct_upload_verify(signed["id"], answering=False)  # the late worker's: invalid, the object deleted

    with pytest.raises(ValidationError) as refused:
        direct_upload_complete(read_by_the_view)

    assert refused.value.message_dict == {"image": [NOT_AN_IMAGE]}
    assert DirectUpload.objects.count() == 0 and Image.objects.count() == 0
    assert not (media_root / signed["fields"]["key"]).exists()
