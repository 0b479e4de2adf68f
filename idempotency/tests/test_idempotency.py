"""Idempotency-Key on the POSTs that create: a repeat answers the first success and creates nothing."""

import threading
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.client import encode_multipart
from django.utils import timezone
from rest_framework.test import APIClient

from idempotency.models import IdempotencyKey
from images.models import DirectUpload, Image
from testutils import LIST_URL, PASSWORD, UPLOAD_URL, bearer, image_bytes, login
from users.models import User

pytestmark = pytest.mark.django_db

SIGNUP_URL = "/api/auth/signup/"
UPLOADS_URL = "/api/images/uploads/"


def multipart_upload(client: APIClient, key: str | None, data: bytes, boundary: str, title: str = "Beach"):
    """POST an image as multipart with this boundary (a retry may encode the same request differently)."""
    body = encode_multipart(boundary, {"title": title, "image": SimpleUploadedFile("beach.png", data)})
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(UPLOAD_URL, body, content_type=f"multipart/form-data; boundary={boundary}", **headers)


def stored(media_root) -> set[str]:
    return {p.relative_to(media_root).as_posix() for p in media_root.rglob("*") if p.is_file()}


def test_an_upload_repeated_with_its_key_answers_the_first_image_and_stores_nothing_more(auth_client, media_root):
    key, data = str(uuid.uuid4()), image_bytes()

    first = multipart_upload(auth_client, key, data, "first-boundary")
    files_after_first = stored(media_root)
    again = multipart_upload(auth_client, f'"{key}"', data, "another-boundary-of-a-retry")

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["checksum"] == first.json()["checksum"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert Image.objects.count() == 1
    assert stored(media_root) == files_after_first  # nothing stored by the repeat
    assert len(auth_client.get(LIST_URL).json()) == 1


def test_the_same_key_with_another_body_is_422_and_creates_nothing(auth_client, media_root):
    key = str(uuid.uuid4())
    first = multipart_upload(auth_client, key, image_bytes(color="red"), "b1")
    files = stored(media_root)

    other_file = multipart_upload(auth_client, key, image_bytes(color="blue"), "b2")
    other_title = multipart_upload(auth_client, key, image_bytes(color="red"), "b3", title="Not the beach")
    other_endpoint = auth_client.post(
        UPLOADS_URL, {"filename": "a.png", "size": 10}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert first.status_code == 201
    for response in (other_file, other_title, other_endpoint):
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
    assert Image.objects.count() == 1 and DirectUpload.objects.count() == 0
    assert stored(media_root) == files


def test_keys_belong_to_one_user(auth_client, other_client):
    key, data = "shared-key-1", image_bytes()

    mine = multipart_upload(auth_client, key, data, "b")
    theirs = multipart_upload(other_client, key, data, "b")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert Image.objects.count() == 2
    assert other_client.get(f"/api/images/{mine.json()['id']}/").status_code == 404


def test_a_failure_is_not_remembered_so_the_retry_runs(auth_client):
    key = str(uuid.uuid4())

    refused = multipart_upload(auth_client, key, b"not an image at all", "b")
    retried = multipart_upload(auth_client, key, b"not an image at all", "b")

    assert refused.status_code == retried.status_code == 400
    assert "Idempotent-Replayed" not in retried.headers
    assert IdempotencyKey.objects.count() == 0 and Image.objects.count() == 0


def test_a_key_is_kept_24_hours_then_forgotten(auth_client, user):
    key, data = str(uuid.uuid4()), image_bytes()
    first = multipart_upload(auth_client, key, data, "b").json()["id"]

    with time_machine.travel(timezone.now() + timedelta(hours=23, minutes=59)):
        kept = multipart_upload(bearer(login(APIClient(), user.email)["access"]), key, data, "b")
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        expired = multipart_upload(bearer(login(APIClient(), user.email)["access"]), key, data, "b")

    assert (kept.status_code, kept.json()["id"]) == (201, first)
    assert expired.status_code == 201 and expired.json()["id"] != first
    assert "Idempotent-Replayed" not in expired.headers
    assert Image.objects.count() == 2 and IdempotencyKey.objects.count() == 1


def test_a_replay_of_a_deleted_image_is_404(auth_client):
    key, data = str(uuid.uuid4()), image_bytes()
    first = multipart_upload(auth_client, key, data, "b").json()["id"]
    assert auth_client.delete(f"/api/images/{first}/").status_code == 204

    again = multipart_upload(auth_client, key, data, "b")

    assert again.status_code == 404
    assert "no longer exists" in again.json()["detail"]
    assert Image.objects.count() == 0


@pytest.mark.parametrize("value", ["", " ", "x" * 256, "caf\u00e9", '"unterminated'])
def test_a_malformed_key_is_400_and_nothing_is_created(auth_client, value):
    response = multipart_upload(auth_client, value, image_bytes(), "b")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert Image.objects.count() == 0


def test_signup_repeated_with_its_key_answers_the_same_account_with_working_tokens(api_client):
    body = {"email": "new@example.com", "username": "new", "password": PASSWORD, "password2": PASSWORD}
    key = str(uuid.uuid4())

    first = api_client.post(SIGNUP_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = APIClient().post(SIGNUP_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    without_key = APIClient().post(SIGNUP_URL, body, format="json")
    changed = APIClient().post(SIGNUP_URL, {**body, "username": "other"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 201
    assert again.json()["user"] == first.json()["user"]
    assert User.objects.filter(email="new@example.com").count() == 1
    for tokens in (first.json()["tokens"], again.json()["tokens"]):  # each answer a session of its own
        assert bearer(tokens["access"]).get("/api/auth/me/").json()["email"] == "new@example.com"
    assert without_key.status_code == 400  # a plain repeat is a second signup: the email is taken
    assert changed.status_code == 422


def test_signup_keys_belong_to_one_client_address():
    body = {"email": "a@example.com", "username": "a", "password": PASSWORD, "password2": PASSWORD}
    key = "signup-key"

    here = APIClient(REMOTE_ADDR="203.0.113.1").post(SIGNUP_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    elsewhere = APIClient(REMOTE_ADDR="203.0.113.2").post(
        SIGNUP_URL, {**body, "email": "b@example.com", "username": "b"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert here.status_code == elsewhere.status_code == 201
    assert User.objects.count() == 2


def test_signing_repeated_with_its_key_answers_the_same_upload_signed_afresh(auth_client):
    key = str(uuid.uuid4())
    body = {"filename": "beach.png", "size": 1234, "title": "Beach"}

    first = auth_client.post(UPLOADS_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = auth_client.post(UPLOADS_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["fields"]["key"] == first.json()["fields"]["key"]
    assert DirectUpload.objects.count() == 1


def test_completion_repeated_with_its_key_answers_the_same_image(auth_client):
    data = image_bytes()
    signed = auth_client.post(UPLOADS_URL, {"filename": "a.png", "size": len(data)}, format="json").json()
    fields = {**signed["fields"], "file": SimpleUploadedFile("a.png", data, content_type="image/png")}
    assert APIClient().post(signed["url"], fields, format="multipart").status_code == 204
    complete = f"/api/images/uploads/{signed['id']}/complete/"
    key = str(uuid.uuid4())

    first = auth_client.post(complete, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = auth_client.post(complete, format="json", HTTP_IDEMPOTENCY_KEY=key)
    other = auth_client.post(UPLOADS_URL, {"filename": "b.png", "size": 9}, format="json").json()
    reused = auth_client.post(f"/api/images/uploads/{other['id']}/complete/", format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert reused.status_code == 422
    assert Image.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_make_one_image_and_the_others_answer_it_or_409(user, media_root):
    access = login(APIClient(), user.email)["access"]
    key, data = str(uuid.uuid4()), image_bytes("JPEG", (800, 600))
    barrier = threading.Barrier(4)
    answers: list = []

    def repeat() -> None:
        try:
            barrier.wait()
            response = multipart_upload(bearer(access), key, data, "b")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=repeat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    image = Image.objects.get()  # exactly one
    assert len(answers) == 4
    for status, body in answers:
        assert (status, body.get("id")) == (201, image.pk) or (status, body["code"]) == (409, "idempotency_key_in_use")
    assert any(status == 201 for status, _ in answers)
    assert stored(media_root) >= {image.image.name}
    assert stored(media_root) == {image.image.name, *image.variants.values()}  # the losers' files are gone


def test_the_schema_documents_the_header_on_every_creating_post(schema):
    for path in (UPLOAD_URL, UPLOADS_URL, "/api/images/uploads/{id}/complete/", SIGNUP_URL):
        operation = schema["paths"][path]["post"]
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path
        # 404: a repeat whose first success created something since deleted (schemathesis found it undocumented).
        assert {"404", "409", "422"} <= set(operation["responses"]), path
    assert not any(p["in"] == "header" for p in schema["paths"][LIST_URL]["get"].get("parameters", []))
