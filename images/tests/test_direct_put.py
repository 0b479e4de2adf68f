"""Direct uploads by presigned PUT: the POST's upload with the bytes sent bare (Uppy's AwsS3, mobile SDKs, curl -T).

On the S3 server (SeaweedFS) the signature covers the key, the exact Content-Length and the Content-Type, so the
store itself refuses anything else; the local store's signed URL enforces the same. Completion, quota, duplicates
and verification are the POST's.
"""

import hashlib
import io
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from images.direct_uploads import local_put_receive
from images.errors import IncompleteBody
from images.models import DirectUpload, Image
from images.tests.test_direct_uploads import NOT_AN_IMAGE, complete_url, put, sign
from testutils import LIST_URL, PROJECT, UUID, detail_url, image_bytes, names_in_store

pytestmark = pytest.mark.django_db

ORIGIN = "https://app.example.com"


def sign_put(client: APIClient, filename: str = "beach.png", size: int = 1000, **fields) -> dict:
    response = sign(client, filename, size, method="PUT", **fields)
    assert response.status_code == 201, response.content
    return response.json()


def signed_in(user) -> APIClient:
    """A client authenticated without a token (one issued now is not valid yet at a time moved back)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- Signing ------------------------------------------------------------------------------------------


def test_signing_a_put_answers_a_url_whose_signature_covers_the_length_and_the_type(s3_storage, auth_client, user):
    data = image_bytes()

    response = sign(auth_client, "Beach Day.png", len(data), method="PUT", title="Beach")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "method", "url", "headers", "key", "expires_at"}
    assert body["method"] == "PUT"
    assert re.fullmatch(rf"uploads/{user.pk}/{UUID}_Beach_Day\.png", body["key"])
    url = urlsplit(body["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{s3_storage.endpoint}/{s3_storage.bucket}/{body['key']}"
    query = parse_qs(url.query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert 299 <= int(query["X-Amz-Expires"][0]) <= 300
    assert body["headers"] == {"Content-Type": "image/png"}  # the filename's type, as the client did not say
    upload = DirectUpload.objects.get()
    assert (upload.method, upload.content_type, upload.size, upload.key) == ("PUT", "image/png", len(data), body["key"])
    assert body["expires_at"] == upload.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert Image.objects.count() == 0 and s3_storage.keys() == []  # signed, nothing stored


@pytest.mark.parametrize(
    ("content_type", "signed_type"),
    [("image/heic", "image/heic"), (None, "image/jpeg"), ("image/webp", "image/webp")],
)
def test_a_put_is_signed_for_the_type_the_client_declares_or_its_filenames(auth_client, content_type, signed_type):
    fields = {"content_type": content_type} if content_type else {}

    body = sign_put(auth_client, "photo.JPG", 100, **fields)

    assert body["headers"] == {"Content-Type": signed_type}
    assert DirectUpload.objects.get().content_type == signed_type


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "image/png; q=1", "image/", ""])
def test_signing_refuses_a_type_that_is_not_an_image(auth_client, content_type):
    response = sign(auth_client, "notes.txt", 100, method="PUT", content_type=content_type)

    assert response.status_code == 400
    assert list(response.json()) == ["content_type"]
    if content_type:
        assert response.json()["content_type"][0].startswith(f"Not an image: the file's type is '{content_type}'.")
    assert DirectUpload.objects.count() == 0


def test_signing_refuses_another_method(auth_client):
    response = sign(auth_client, method="PATCH")

    assert response.status_code == 400 and list(response.json()) == ["method"]


def test_a_put_holds_its_declared_size_of_the_quota(auth_client, settings):
    settings.IMAGE_USER_QUOTA_BYTES = 1000
    sign_put(auth_client, size=700)

    over = sign(auth_client, size=301, method="PUT")

    assert over.status_code == 409
    assert over.json()["code"] == "quota_exceeded" and over.json()["usage"]["bytes"] == 700
    assert auth_client.get("/api/auth/me/").json()["usage"]["bytes"] == 700


def test_signing_a_put_again_with_its_idempotency_key_answers_the_same_upload(auth_client):
    key = {"HTTP_IDEMPOTENCY_KEY": "put-1"}
    fields = {"filename": "a.png", "size": 100, "method": "PUT"}

    first = auth_client.post("/api/images/uploads/", fields, format="json", **key)
    again = auth_client.post("/api/images/uploads/", fields, format="json", **key)

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.json()["id"], again.json()["method"], again.json()["key"]) == (
        first.json()["id"],
        "PUT",
        first.json()["key"],
    )
    assert DirectUpload.objects.count() == 1


def test_with_tagging_on_the_put_signs_the_pending_tag_header(s3_storage, auth_client, settings):
    settings.IMAGE_DIRECT_UPLOAD_TAGGING = True

    body = sign_put(auth_client)

    assert body["headers"] == {"Content-Type": "image/png", "x-amz-tagging": "upload=pending"}
    signed = parse_qs(urlsplit(body["url"]).query)["X-Amz-SignedHeaders"]
    assert signed == ["content-length;content-type;host;x-amz-tagging"]


# --- The S3 server refuses anything but the signed request -------------------------------------------


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("a byte more", lambda signed, data: {"data": data + b"\0"}),
        ("a byte less", lambda signed, data: {"data": data[:-1]}),
        ("another type", lambda signed, data: {"Content-Type": "image/jpeg"}),
        ("another key", lambda signed, data: {"url": signed["url"].replace(signed["key"], "images/1/chosen.png")}),
        ("no type", lambda signed, data: {"Content-Type": ""}),
    ],
)
def test_the_store_refuses_a_put_that_differs_from_the_signed_one(s3_storage, auth_client, what, change):
    data = image_bytes("PNG", (40, 30))
    signed = sign_put(auth_client, "a.png", len(data))
    changes = change(signed, data)

    refused = put(signed, changes.pop("data", data), **changes)

    assert refused.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in refused.text, refused.text
    assert s3_storage.keys() == []
    assert put(signed, data).status_code == 200  # the signed request itself passes
    assert s3_storage.keys() == [signed["key"]]


def test_the_store_refuses_an_expired_put(s3_storage, user):
    data = image_bytes()
    with time_machine.travel(timezone.now() - timedelta(seconds=301)):  # signed 301 s ago, for 300 s
        signed = sign_put(signed_in(user), "a.png", len(data))

    refused = put(signed, data)

    assert refused.status_code == 403 and "Request has expired" in refused.text, refused.text
    assert s3_storage.keys() == []


def test_a_good_put_to_the_store_completes_into_an_image(
    s3_storage, auth_client, user, django_capture_on_commit_callbacks
):
    data = image_bytes("PNG", (300, 200), color="green")
    signed = sign_put(auth_client, "Holiday.png", len(data), title="Holiday")

    sent = put(signed, data)
    with django_capture_on_commit_callbacks(execute=True):  # the variants, made inline after commit
        response = auth_client.post(complete_url(signed["id"]), format="json")

    assert sent.status_code == 200
    assert sent.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'  # what Uppy reads
    assert response.status_code == 201
    image = Image.objects.get()
    assert (response.json()["id"], response.json()["title"], image.width, image.height) == (
        image.pk,
        "Holiday",
        300,
        200,
    )
    assert re.fullmatch(rf"images/{user.pk}/{UUID}_Holiday\.png", image.image.name)
    head = s3_storage.client().head_object(Bucket=s3_storage.bucket, Key=image.image.name)
    assert head["ContentType"] == "image/png"
    assert signed["key"] not in s3_storage.keys()
    listed = auth_client.get(LIST_URL).json()
    assert [(item["id"], item["processing"]) for item in listed] == [(image.pk, "ready")]
    assert requests.get(listed[0]["image_url"], timeout=10).content == data


def test_a_put_again_after_completion_stores_bytes_that_the_sweep_removes(
    s3_storage, auth_client, django_capture_on_commit_callbacks
):
    """A presigned PUT cannot be revoked either: what it puts back at the upload's key after completion is no image
    and in no quota, and the next sweep deletes it."""
    data = image_bytes("PNG", (40, 30))
    signed = sign_put(auth_client, "a.png", len(data))
    assert put(signed, data).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        image = auth_client.post(complete_url(signed["id"]), format="json").json()
    kept = names_in_store()

    assert put(signed, b"\0" * len(data)).status_code == 200  # the same length, as signed
    assert names_in_store() == kept | {signed["key"]}
    with django_capture_on_commit_callbacks(execute=True):
        call_command("sweep_images", stdout=io.StringIO())

    assert names_in_store() == kept
    assert requests.get(auth_client.get(detail_url(image["id"])).json()["image_url"], timeout=10).content == data


# --- The local store: the service's own signed URL, the same conditions -------------------------------------


def test_the_same_put_on_local_storage(auth_client, user, media_root, django_capture_on_commit_callbacks):
    data = image_bytes("JPEG", (64, 48))
    signed = sign_put(auth_client, "Garden.jpeg", len(data), title="Garden")
    url = urlsplit(signed["url"])

    sent = put(signed, data)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(complete_url(signed["id"]), format="json")

    assert f"{url.scheme}://{url.netloc}{url.path}" == f"http://testserver/api/images/uploads/local/{signed['key']}"
    assert set(parse_qs(url.query)) == {"expires", "length", "type", "signature"}
    assert signed["headers"] == {"Content-Type": "image/jpeg"}
    assert sent.status_code == 200 and sent.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert response.status_code == 201
    image = Image.objects.get()
    assert (media_root / image.image.name).read_bytes() == data
    assert not (media_root / signed["key"]).exists()
    assert names_in_store() == {image.image.name, *image.variants.values()}


@pytest.mark.parametrize(
    ("what", "change", "status", "message"),
    [
        ("a byte more", lambda s, d: {"data": d + b"\0"}, 403, "Content-Length must be {length} bytes, as signed."),
        ("a byte less", lambda s, d: {"data": d[:-1]}, 403, "Content-Length must be {length} bytes, as signed."),
        ("no length", lambda s, d: {"CONTENT_LENGTH": ""}, 411, "A PUT needs a Content-Length header"),
        (
            "another type",
            lambda s, d: {"Content-Type": "image/jpeg"},
            403,
            "Content-Type must be image/png, as signed.",
        ),
        ("another key", lambda s, d: {"url": s["url"].replace(s["key"], "uploads/1/chosen.png")}, 403, "not match"),
        ("a longer length", lambda s, d: {"url": re.sub(r"length=\d+", "length=99999", s["url"])}, 403, "not match"),
        ("another type signed", lambda s, d: {"url": s["url"].replace("png", "gif")}, 403, "does not match"),
        ("no signature", lambda s, d: {"url": s["url"].split("&signature=")[0]}, 403, "The URL is not signed"),
    ],
)
def test_the_local_store_refuses_a_put_that_differs_from_the_signed_one(
    auth_client, media_root, what, change, status, message
):
    data = image_bytes("PNG", (40, 30))
    signed = sign_put(auth_client, "a.png", len(data))
    changes = change(signed, data)
    body = changes.pop("data", data)

    refused = _local_put(signed, body, **changes)

    assert refused.status_code == status, refused.content
    assert message.format(length=len(data)) in refused.json()["detail"]
    assert refused.json()["code"] in ("policy_refused", "length_required")
    assert not (media_root / signed["key"]).exists()
    assert put(signed, data).status_code == 200  # the signed request itself passes
    assert (media_root / signed["key"]).read_bytes() == data


def _local_put(signed: dict, data: bytes, url: str = "", **headers: str):
    """A PUT through the test client; an upper-case name is a raw WSGI variable (CONTENT_LENGTH), others headers."""
    parts = urlsplit(url or signed["url"])
    content_type = headers.pop("Content-Type", signed["headers"]["Content-Type"])
    extra = {name if name.isupper() else "HTTP_" + name.upper(): value for name, value in headers.items()}
    return APIClient().generic("PUT", f"{parts.path}?{parts.query}", data, content_type=content_type, **extra)


def test_the_local_store_refuses_an_expired_put_and_one_once_the_upload_is_completed(
    auth_client, user, media_root, django_capture_on_commit_callbacks
):
    data = image_bytes()
    with time_machine.travel(timezone.now() - timedelta(seconds=301)):  # signed 301 s ago, for 300 s
        expiring = sign_put(signed_in(user), "a.png", len(data))
    assert put(expiring, data).json()["detail"] == "Request has expired."

    signed = sign_put(auth_client, "b.png", len(data))
    assert put(signed, data).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.post(complete_url(signed["id"]), format="json").status_code == 201
    again = put(signed, data)

    assert (again.status_code, again.json()["detail"]) == (403, "This upload is no longer open.")
    assert not (media_root / signed["key"]).exists() and not (media_root / expiring["key"]).exists()


def test_a_local_put_url_signed_before_the_secret_key_changed_still_works(auth_client, settings, media_root):
    data = image_bytes()
    signed = sign_put(auth_client, "a.png", len(data))
    settings.SECRET_KEY_FALLBACKS, settings.SECRET_KEY = [settings.SECRET_KEY], "a-new-secret-key-" + "x" * 40

    assert put(signed, data).status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert put(signed, data).json()["detail"] == "The signature does not match this key, length, type and expiry."


def test_the_local_store_refuses_a_body_that_ends_early(auth_client, media_root):
    signed = sign_put(auth_client, "a.png", 1000)
    query = parse_qs(urlsplit(signed["url"]).query)

    with pytest.raises(IncompleteBody):
        local_put_receive(
            key=signed["key"],
            expires=query["expires"][0],
            length="1000",
            signed_type="image/png",
            signature=query["signature"][0],
            content_length="1000",
            content_type="image/png",
            body=io.BytesIO(b"\0" * 999),
        )

    assert not (media_root / signed["key"]).exists()


def test_a_put_body_over_the_request_limit_still_reaches_the_local_store(auth_client, settings, media_root):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # the limit of bodies that are not images
    data = image_bytes("PNG", (300, 300), color="blue") + b"\0" * 2000
    signed = sign_put(auth_client, "a.png", len(data))

    assert put(signed, data).status_code == 200  # an image/ body: IMAGE_MAX_UPLOAD_SIZE more
    assert put(signed, data, **{"Content-Type": "application/octet-stream"}).status_code == 413
    assert (media_root / signed["key"]).read_bytes() == data


def test_a_browser_on_an_allowed_origin_may_put_and_read_the_etag(auth_client, settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    data = image_bytes()
    signed = sign_put(auth_client, "a.png", len(data))
    path = urlsplit(signed["url"])
    target = f"{path.path}?{path.query}"
    preflight = {"HTTP_ORIGIN": ORIGIN, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT"}

    allowed = APIClient().options(target, **preflight, HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type")
    sent = APIClient().generic("PUT", target, data, content_type="image/png", HTTP_ORIGIN=ORIGIN)
    stranger = APIClient().options(target, **{**preflight, "HTTP_ORIGIN": "https://evil.example"})

    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PUT" in allowed.headers["Access-Control-Allow-Methods"]
    assert "content-type" in allowed.headers["Access-Control-Allow-Headers"]
    assert sent.status_code == 200 and sent.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in sent.headers["Access-Control-Expose-Headers"].split(", ")
    assert "Access-Control-Allow-Origin" not in stranger.headers


# --- Completion: the POST's rules ---------------------------------------------------------------------------


def test_a_put_upload_is_verified_as_a_post_one(store, auth_client, django_capture_on_commit_callbacks):
    data = b"GIF89a but not really an image at all"
    refused = sign_put(auth_client, "fake.gif", len(data))
    good = image_bytes("PNG", (30, 20))
    accepted = sign_put(auth_client, "good.png", len(good))
    assert put(refused, data).status_code == 200 and put(accepted, good).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        invalid = auth_client.post(complete_url(refused["id"]), format="json")
        first = auth_client.post(complete_url(accepted["id"]), format="json")
    again = auth_client.post(complete_url(accepted["id"]), format="json")

    assert (invalid.status_code, invalid.json()) == (400, {"image": [NOT_AN_IMAGE]})
    assert first.status_code == again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert list(Image.objects.values_list("pk", flat=True)) == [first.json()["id"]]
    assert list(DirectUpload.objects.values_list("pk", flat=True)) == [DirectUpload.objects.get(image__isnull=False).pk]
    image = Image.objects.get()
    assert names_in_store() == {image.image.name, *image.variants.values()}


def test_bytes_the_user_already_has_follow_image_duplicates_by_put_too(
    auth_client, upload, settings, django_capture_on_commit_callbacks
):
    data = image_bytes("PNG", (30, 30), color="blue")
    first = upload(SimpleUploadedFile("a.png", data, content_type="image/png"))
    settings.IMAGE_DUPLICATES = "refuse"
    signed = sign_put(auth_client, "again.png", len(data))
    put(signed, data)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(complete_url(signed["id"]), format="json")

    assert response.status_code == 409
    assert response.json()["existing_id"] == first["id"]
    assert Image.objects.count() == 1 and DirectUpload.objects.count() == 0


def test_the_list_never_shows_a_put_upload_before_it_is_completed(auth_client):
    data = image_bytes()
    signed = sign_put(auth_client, "a.png", len(data))
    put(signed, data)

    assert auth_client.get(LIST_URL).json() == []
    assert DirectUpload.objects.get().expires_at > timezone.now()


def test_the_docs_show_the_uppy_example_and_the_bucket_rule_that_ci_runs():
    readme = (PROJECT / "docs" / "direct-uploads.md").read_text()
    example = (PROJECT / "examples" / "uppy" / "uppy-upload.js").read_text()
    rule = (PROJECT / "examples" / "uppy" / "bucket-cors.json").read_text()

    assert f"```js\n{example}```" in readme
    assert f"```json\n{rule}```" in readme
    assert json.loads(rule)["CORSRules"][0]["ExposeHeaders"] == ["ETag"]
