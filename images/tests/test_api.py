"""The image endpoints end to end: upload, list, detail, delete, with files on a temporary MEDIA_ROOT."""

import re
from unittest.mock import ANY

import pytest

from images.models import Image
from images.serializers import DERIVED_FIELDS
from testutils import LIST_URL, UPLOAD_URL, UUID, delete_url, detail_url, url_path

pytestmark = pytest.mark.django_db


def test_upload_stores_the_file_and_answers_as_the_spec_shows(auth_client, user, make_image, media_root):
    file = make_image("holiday.png")
    response = auth_client.post(
        UPLOAD_URL, {"image": file, "title": "My Image", "description": "A beautiful landscape"}, format="multipart"
    )

    assert response.status_code == 201
    body = response.json()
    # The spec's fields, and beside them what the service derives from the file: the detail's fields, all of them.
    assert list(body) == [
        *("id", "user", "image", "image_url", "title", "description", "uploaded_at", "updated_at"),
        *DERIVED_FIELDS,
    ]
    assert body == auth_client.get(detail_url(body["id"])).json()
    # The spec's path; the query signs it with an expiry, and names the download.
    assert re.fullmatch(
        rf"/media/images/{user.pk}/{UUID}_holiday\.png\?response-content-disposition=inline%3B\+filename%3D%22"
        r"holiday\.png%22&expires=\d+&signature=[\w-]+",
        body["image"],
    )
    assert (body["title"], body["description"]) == ("My Image", "A beautiful landscape")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["uploaded_at"])
    assert body["image_url"] == f"http://testserver{body['image']}"  # `image` stays the spec's path, as it shows
    assert body["user"] == {"id": user.pk, "email": user.email, "username": user.username, "date_joined": ANY}
    image = Image.objects.get(pk=body["id"])
    assert image.user == user
    file.seek(0)
    assert (media_root / image.image.name).read_bytes() == file.read()
    assert image.size == file.size


def test_upload_title_and_description_are_optional(upload):
    body = upload()

    assert (body["title"], body["description"]) == ("", "")


def test_upload_requires_authentication(api_client, make_image, stored_files):
    response = api_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert not Image.objects.exists()
    assert stored_files() == []


def test_upload_without_a_file_is_a_400_under_image(auth_client, stored_files):
    response = auth_client.post(UPLOAD_URL, {"title": "no file"}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"image": ["No file was submitted."]}
    assert not Image.objects.exists()
    assert stored_files() == []


def test_upload_refuses_json_bodies(auth_client):
    response = auth_client.post(UPLOAD_URL, {"title": "x"}, format="json")

    assert response.status_code == 415
    assert not Image.objects.exists()


def test_list_shows_only_the_users_images_newest_first_with_every_field(
    auth_client, user, upload, other_client, make_image
):
    first = upload(title="first")
    second = upload(title="second", description="later")
    other_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart")

    response = auth_client.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body] == [second["id"], first["id"]]
    item = body[0]
    assert set(item) == {
        "id",
        "user",
        "image",
        "image_url",
        "title",
        "description",
        "uploaded_at",
        "updated_at",
        *DERIVED_FIELDS,
    }
    assert item["user"] == {
        "id": user.pk,
        "email": user.email,
        "username": user.username,
        "date_joined": user.date_joined.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert item["image"] == second["image"]
    assert item["image_url"] == f"http://testserver{second['image']}"
    assert (item["title"], item["description"]) == ("second", "later")


def test_list_is_an_empty_array_for_a_new_user(auth_client):
    response = auth_client.get(LIST_URL)

    assert response.status_code == 200
    assert response.json() == []


def test_list_takes_the_same_number_of_queries_for_any_number_of_images(auth_client, upload, django_assert_num_queries):
    # Two queries whatever the count: the token's user, then the images joined with their owner.
    upload()
    with django_assert_num_queries(2):
        auth_client.get(LIST_URL)
    for _ in range(4):
        upload()
    with django_assert_num_queries(2):
        response = auth_client.get(LIST_URL)
    assert len(response.json()) == 5


def test_image_url_serves_the_uploaded_bytes_while_debug_is_on(auth_client, upload, make_image, settings, client):
    file = make_image("served.png")
    body = upload(file)
    url = auth_client.get(detail_url(body["id"])).json()["image_url"]

    settings.DEBUG = True  # the embedded default; pytest turns it off
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    file.seek(0)
    assert b"".join(response.streaming_content) == file.read()
    response.close()


def test_media_is_served_only_at_its_signed_url_when_debug_is_off(upload, client):
    # Local files are served at signed URLs whatever DEBUG says; the bare path is refused.
    body = upload()

    assert client.get(url_path(body["image"])).status_code == 403


def test_detail_shows_one_image(auth_client, upload, user):
    body = upload(title="one")

    response = auth_client.get(detail_url(body["id"]))

    assert response.status_code == 200
    item = response.json()
    assert item["id"] == body["id"]
    assert item["title"] == "one"
    assert item["user"]["id"] == user.pk
    assert item["image_url"] == f"http://testserver{body['image']}"


def test_another_users_image_is_a_404_for_detail_and_delete(other_client, upload, media_root):
    body = upload()
    image = Image.objects.get(pk=body["id"])

    assert other_client.get(detail_url(body["id"])).status_code == 404
    response = other_client.delete(delete_url(body["id"]))

    assert response.status_code == 404
    assert response.json() == {"detail": "No Image matches the given query."}
    assert Image.objects.filter(pk=image.pk).exists()
    assert (media_root / image.image.name).exists()


def test_unknown_image_is_a_404(auth_client):
    assert auth_client.get(detail_url(999999)).status_code == 404
    assert auth_client.delete(delete_url(999999)).status_code == 404


def test_detail_and_delete_require_authentication(api_client, upload):
    body = upload()

    assert api_client.get(detail_url(body["id"])).status_code == 401
    assert api_client.delete(delete_url(body["id"])).status_code == 401
    assert Image.objects.filter(pk=body["id"]).exists()


def test_delete_removes_the_row_and_then_the_file(
    auth_client, upload, stored_files, django_capture_on_commit_callbacks
):
    body = upload()
    keep = upload()
    assert len(stored_files()) == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(delete_url(body["id"]))

    assert response.status_code == 204
    assert response.content == b""
    assert not Image.objects.filter(pk=body["id"]).exists()
    assert stored_files() == [Image.objects.get(pk=keep["id"]).image.name]
    assert auth_client.get(detail_url(body["id"])).status_code == 404


def test_delete_keeps_the_file_until_the_transaction_commits(
    auth_client, upload, stored_files, django_capture_on_commit_callbacks
):
    upload_body = upload()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        auth_client.delete(delete_url(upload_body["id"]))

    assert len(callbacks) == 1
    assert len(stored_files()) == 1  # still there: the deletion has not committed yet
    callbacks[0]()
    assert stored_files() == []


def test_delete_endpoint_only_deletes(auth_client, upload):
    body = upload()

    assert auth_client.get(delete_url(body["id"])).status_code == 405
    assert auth_client.post(delete_url(body["id"])).status_code == 405
    assert Image.objects.filter(pk=body["id"]).exists()


def test_deleting_a_user_removes_their_files(user, upload, stored_files, django_capture_on_commit_callbacks):
    upload()
    upload()

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    assert not Image.objects.exists()
    assert stored_files() == []


# Was in config/tests/test_api_surface.py: uploads go to the upload path, never to the list.
def test_a_wrong_method_is_a_json_405(auth_client):
    response = auth_client.post(LIST_URL)

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "POST" not allowed.'}
