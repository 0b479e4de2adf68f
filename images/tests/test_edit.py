"""Editing an image's title and description, and deleting it at /api/images/<id>/ as well."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from testutils import detail_url, image_bytes

pytestmark = pytest.mark.django_db


def test_patch_changes_the_title_and_answers_with_the_whole_image(auth_client, upload):
    body = upload(title="old", description="kept")

    response = auth_client.patch(detail_url(body["id"]), {"title": "new"}, format="json")

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["description"]) == ("new", "kept")
    assert response.json()["image"] == body["image"]
    image = Image.objects.get(pk=body["id"])
    assert (image.title, image.description) == ("new", "kept")
    assert image.updated_at > image.uploaded_at


def test_put_sets_title_and_description(auth_client, upload):
    body = upload(title="old", description="old text")

    response = auth_client.put(detail_url(body["id"]), {"title": "t", "description": "d"}, format="json")

    assert response.status_code == 200
    assert Image.objects.filter(pk=body["id"], title="t", description="d").exists()


def test_put_replaces_both_and_empties_the_one_left_out(auth_client, upload):
    body = upload(title="old", description="old text")

    response = auth_client.put(detail_url(body["id"]), {"title": "only the title"}, format="json")

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["description"]) == ("only the title", "")
    assert Image.objects.filter(pk=body["id"], title="only the title", description="").exists()


def test_patch_works_with_a_form_body_too(auth_client, upload):
    body = upload()

    response = auth_client.patch(detail_url(body["id"]), {"title": "form"}, format="multipart")

    assert response.status_code == 200
    assert Image.objects.get(pk=body["id"]).title == "form"


def test_derived_fields_cannot_be_edited(auth_client, upload):
    body = upload()

    response = auth_client.patch(
        detail_url(body["id"]),
        {"width": 1, "size": 2, "checksum": "x", "processing": "ready", "user": 99},
        format="json",
    )

    assert response.status_code == 200
    image = Image.objects.get(pk=body["id"])
    assert (image.width, image.size, image.checksum) == (body["width"], body["size"], body["checksum"])


def test_the_file_cannot_be_replaced_by_an_edit(auth_client, upload, media_root):
    body = upload()
    name = Image.objects.get(pk=body["id"]).image.name
    new_file = SimpleUploadedFile("other.png", image_bytes(color="blue"))

    response = auth_client.patch(detail_url(body["id"]), {"image": new_file, "title": "x"}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"image": ["The file cannot be replaced; upload a new image instead."]}
    image = Image.objects.get(pk=body["id"])
    assert (image.image.name, image.title) == (name, "")
    assert sorted(p.name for p in (media_root / name).parent.iterdir()) == [name.rsplit("/", 1)[1]]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"title": "x" * 256}, {"title": ["Ensure this field has no more than 255 characters."]}),
        ({"description": "x" * 5001}, {"description": ["Ensure this field has no more than 5000 characters."]}),
    ],
)
def test_edits_are_validated(auth_client, upload, change, error):
    body = upload(title="kept")

    response = auth_client.patch(detail_url(body["id"]), change, format="json")

    assert response.status_code == 400
    assert response.json() == error
    assert Image.objects.get(pk=body["id"]).title == "kept"


def test_another_users_image_cannot_be_edited_or_deleted(other_client, upload, stored_files):
    body = upload(title="mine")

    assert other_client.patch(detail_url(body["id"]), {"title": "theirs"}, format="json").status_code == 404
    assert other_client.put(detail_url(body["id"]), {"title": "theirs"}, format="json").status_code == 404
    assert other_client.delete(detail_url(body["id"])).status_code == 404
    assert Image.objects.get(pk=body["id"]).title == "mine"
    assert len(stored_files()) == 1


def test_delete_at_the_detail_path_removes_row_and_file(
    auth_client, upload, stored_files, django_capture_on_commit_callbacks
):
    body = upload()

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(detail_url(body["id"]))

    assert response.status_code == 204
    assert not Image.objects.exists()
    assert stored_files() == []


def test_editing_requires_authentication(api_client, upload):
    body = upload()

    assert api_client.patch(detail_url(body["id"]), {"title": "x"}, format="json").status_code == 401
