"""Finding a user's image by content (?checksum=), and IMAGE_DUPLICATES (allow, reuse, refuse)."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from testutils import LIST_URL, UPLOAD_URL, image_bytes, phone_photo

pytestmark = pytest.mark.django_db


def photo(data: bytes | None = None, name: str = "IMG_0001.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data or phone_photo("JPEG"), content_type="image/jpeg")


def test_checksum_finds_an_image_by_the_bytes_sent_or_the_bytes_stored(
    auth_client, upload, other_client, django_assert_num_queries
):
    sent = phone_photo("JPEG")
    wanted = upload(photo(sent))
    upload(photo(image_bytes("JPEG")))
    other_client.post(UPLOAD_URL, {"image": photo(sent)}, format="multipart")  # another user's copy
    assert wanted["checksum"] != wanted["upload_checksum"]  # the metadata was stripped

    for checksum in (hashlib.sha256(sent).hexdigest(), wanted["checksum"], wanted["checksum"].upper()):
        with django_assert_num_queries(2):
            response = auth_client.get(LIST_URL, {"checksum": checksum})
        assert response.status_code == 200
        assert [item["id"] for item in response.json()] == [wanted["id"]]

    assert auth_client.get(LIST_URL, {"checksum": "0" * 64}).json() == []


@pytest.mark.parametrize("value", ["abc", "g" * 64, "0" * 63, "0" * 65])
def test_a_malformed_checksum_is_a_400(auth_client, value):
    response = auth_client.get(LIST_URL, {"checksum": value})

    assert response.status_code == 400
    assert response.json() == {"checksum": ["Enter a SHA-256 checksum: 64 hexadecimal digits."]}


def test_duplicates_are_allowed_by_default_as_the_spec_has_it(upload, settings, stored_files):
    assert settings.IMAGE_DUPLICATES == "allow"
    sent = phone_photo("JPEG")

    first, second = upload(photo(sent)), upload(photo(sent))

    assert first["id"] != second["id"]
    assert first["checksum"] == second["checksum"]
    assert len(stored_files()) == 2


def test_reuse_answers_200_with_the_image_already_there_and_stores_nothing(auth_client, upload, settings, stored_files):
    settings.IMAGE_DUPLICATES = "reuse"
    sent = phone_photo("JPEG")
    first = upload(photo(sent), title="first")
    files = stored_files()

    response = auth_client.post(UPLOAD_URL, {"image": photo(sent, "again.jpg"), "title": "second"}, format="multipart")

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["title"] == "first"
    assert Image.objects.count() == 1
    assert stored_files() == files


def test_refuse_answers_409_naming_the_existing_image_and_stores_nothing(auth_client, upload, settings, stored_files):
    settings.IMAGE_DUPLICATES = "refuse"
    sent = phone_photo("JPEG")
    first = upload(photo(sent))
    files = stored_files()

    response = auth_client.post(UPLOAD_URL, {"image": photo(sent)}, format="multipart")

    assert response.status_code == 409
    assert response.json() == {
        "image": [f"You already have this image (id {first['id']})."],
        "existing_id": first["id"],
    }
    assert Image.objects.count() == 1
    assert stored_files() == files


def test_the_same_photo_with_other_metadata_is_the_same_image(auth_client, upload, settings):
    # Stored bytes match although the bytes sent differ: only the metadata did (GPS here, none there).
    settings.IMAGE_DUPLICATES = "refuse"
    first = upload(photo(phone_photo("JPEG", orientation=1)))
    with Image.objects.get(pk=first["id"]).image.open("rb") as stored:
        stripped_by_hand = stored.read()

    response = auth_client.post(UPLOAD_URL, {"image": photo(stripped_by_hand)}, format="multipart")

    assert response.status_code == 409
    assert response.json()["existing_id"] == first["id"]


def test_duplicates_are_per_user(upload, other_client, settings):
    settings.IMAGE_DUPLICATES = "refuse"
    sent = phone_photo("JPEG")
    upload(photo(sent))

    response = other_client.post(UPLOAD_URL, {"image": photo(sent)}, format="multipart")

    assert response.status_code == 201
    assert Image.objects.count() == 2


def test_both_checksums_are_indexed_per_user():
    indexes = {tuple(index.fields) for index in Image._meta.indexes}

    assert {("user", "checksum"), ("user", "upload_checksum")} <= indexes
