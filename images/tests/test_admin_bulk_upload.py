"""The admin's "Upload images" page and the calls it makes: the API's signing and completion, in a staff session.

The page itself runs in a real browser in CI (.ci/browser/run); these tests cover what the server does for it.
"""

import json

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from images.models import DirectUpload, Image
from images.tests.test_direct_uploads import put
from testutils import image_bytes

pytestmark = pytest.mark.django_db

PAGE = "admin:images_image_upload"


def sign(client: Client, body: dict, **headers):
    return client.post(reverse(f"{PAGE}_sign"), json.dumps(body), content_type="application/json", **headers)


def complete(client: Client, upload_id: str, **headers):
    return client.post(reverse(f"{PAGE}_complete", args=[upload_id]), "{}", content_type="application/json", **headers)


@pytest.fixture
def staff_client(db) -> Client:
    """A staff member who may add images (not a superuser), logged in to the admin, CSRF checked as a browser is."""
    from users.models import User

    staff = User.objects.create_user(email="staff@example.com", username="staff", password="pw-Secret-1", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["add_image", "view_image", "view_user"]))
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get(reverse(PAGE))  # sets the CSRF cookie, as the page does
    client.staff = staff
    return client


def csrf(client: Client) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def test_the_page_loads_uppy_from_the_projects_own_static_files(admin_client, settings):
    response = admin_client.get(reverse(PAGE))

    assert response.status_code == 200
    html = response.content.decode()
    assert '"uppy": "/static/images/vendor/uppy/uppy.esm.min.js"' in html  # the import map: no CDN
    assert "/static/images/vendor/uppy/uppy.min.css" in html
    assert '<script type="module" src="/static/images/admin/bulk_upload.js">' in html
    assert 'id="bulk-upload-dashboard"' in html and 'name="owner"' in html
    config = json.loads(html.split('<script id="bulk-upload-config" type="application/json">')[1].split("</script>")[0])
    assert config["sign"] == "/admin/images/image/upload/sign/"
    assert config["complete"] == f"/admin/images/image/upload/{config['placeholder']}/complete/"
    assert config["me"] == "root@example.com" and "10.0\xa0MB" in config["note"]
    assert config["completing"] == settings.IMAGE_DIRECT_UPLOAD_CONCURRENCY  # no more at once than a process takes
    for name in (
        "images/vendor/uppy/uppy.esm.min.js",
        "images/vendor/uppy/uppy.min.css",
        "images/admin/bulk_upload.js",
    ):
        assert finders.find(name), name
    changelist = admin_client.get(reverse("admin:images_image_changelist")).content.decode()
    assert f'<a href="{reverse(PAGE)}" class="addlink">Upload images</a>' in changelist


def test_the_page_and_its_calls_are_for_staff_who_may_add_images(client, auth_client, user, staff_client):
    staff_client.staff.user_permissions.remove(Permission.objects.get(codename="add_image"))
    body = {"filename": "a.png", "size": 100, "method": "PUT"}

    assert client.get(reverse(PAGE)).status_code == 302  # to the admin's login
    assert auth_client.post(reverse(f"{PAGE}_sign"), body, format="json").status_code == 302  # a token is no session
    assert staff_client.get(reverse(PAGE)).status_code == 403
    assert sign(staff_client, body, **csrf(staff_client)).status_code == 403
    assert DirectUpload.objects.count() == 0


def test_signing_needs_the_csrf_token_and_signs_a_put_for_the_staff_member(staff_client, media_root):
    data = image_bytes()
    body = {"filename": "a.png", "size": len(data), "method": "PUT", "content_type": "image/png"}

    forged = sign(staff_client, body)  # another site's page cannot sign with the admin's session
    signed = sign(staff_client, body, **csrf(staff_client))

    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert signed.status_code == 201, signed.content
    assert signed.json()["method"] == "PUT" and set(signed.json()["headers"]) == {"Content-Type"}
    upload = DirectUpload.objects.get()
    assert (upload.user, upload.allow_duplicates) == (staff_client.staff, True)
    assert put(signed.json(), data).status_code == 200

    done = complete(staff_client, upload.pk, **csrf(staff_client))

    assert done.status_code == 201, done.content
    image = Image.objects.get()
    assert done.json()["id"] == image.pk and image.user == staff_client.staff
    assert done.json()["owner"] == "staff@example.com"
    assert done.json()["admin_url"] == reverse("admin:images_image_change", args=[image.pk])
    assert (media_root / image.image.name).read_bytes() == data


def test_the_images_land_with_the_owner_chosen_and_duplicates_are_added(
    staff_client, user, upload, settings, django_capture_on_commit_callbacks
):
    data = image_bytes("PNG", (20, 20), color="blue")
    first = upload()  # alice's own upload, through the API
    settings.IMAGE_DUPLICATES = "refuse"  # the API's rule; staff mean to add what they drop
    images = []
    for _ in range(2):
        signed = sign(
            staff_client,
            {"filename": "b.png", "size": len(data), "method": "PUT", "owner": user.pk},
            **csrf(staff_client),
        ).json()
        assert put(signed, data).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            images.append(complete(staff_client, signed["id"], **csrf(staff_client)).json())

    assert [image["owner"] for image in images] == ["alice@example.com"] * 2
    assert set(Image.objects.filter(user=user).values_list("pk", flat=True)) == {
        first["id"],
        *(i["id"] for i in images),
    }
    listed = staff_client.get(reverse(f"{PAGE}_images"), {"id": [i["id"] for i in images]})
    assert [(i["id"], i["processing"]) for i in listed.json()] == [
        (images[0]["id"], "ready"),
        (images[1]["id"], "ready"),
    ]
    assert all(i["variants"]["thumbnail"]["url"].startswith("http://testserver/media/") for i in listed.json())


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"filename": "big.png", "size": 10 * 1024 * 1024 + 1}, 400, "The image is too large (10485761 bytes)"),
        ({"filename": "notes.txt", "size": 10, "content_type": "text/plain"}, 400, "Not an image: the file's type is"),
        ({"filename": "a.png", "size": 2000}, 409, "would exceed your storage quota"),
    ],
)
def test_refusals_at_signing_say_why_in_words(staff_client, user, settings, body, status, message):
    settings.IMAGE_USER_QUOTA_BYTES = 1000

    response = sign(staff_client, {**body, "method": "PUT", "owner": user.pk}, **csrf(staff_client))

    assert response.status_code == status
    answer = response.json()
    words = answer.get("detail") or next(iter(answer.values()))[0]
    assert message in words
    assert DirectUpload.objects.count() == 0


def test_bytes_that_are_no_image_are_refused_on_completion_in_words(staff_client, media_root):
    data = b"\xff\xd8\xff not really a JPEG"
    signed = sign(staff_client, {"filename": "broken.jpg", "size": len(data), "method": "PUT"}, **csrf(staff_client))
    assert put(signed.json(), data).status_code == 200

    refused = complete(staff_client, signed.json()["id"], **csrf(staff_client))

    assert refused.status_code == 400
    assert refused.json() == {
        "image": ["Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image."]
    }
    assert Image.objects.count() == 0 and DirectUpload.objects.count() == 0


def test_the_image_list_takes_ids_only(staff_client):
    assert staff_client.get(reverse(f"{PAGE}_images"), {"id": "x"}).status_code == 400
    assert staff_client.get(reverse(f"{PAGE}_images")).json() == []


def test_the_admin_calls_are_not_in_the_apis_schema(schema):
    assert not [path for path in schema["paths"] if path.startswith("/admin/")]


def test_the_image_list_takes_the_same_queries_for_one_image_or_many(staff_client, django_assert_num_queries):
    images = [
        Image.objects.create(user=staff_client.staff, image=SimpleUploadedFile(f"{n}.png", image_bytes()))
        for n in range(5)
    ]
    url = reverse(f"{PAGE}_images")

    # The session, the user, the user's and its groups' permissions, then the images with their owners.
    with django_assert_num_queries(5):
        one = staff_client.get(url, {"id": [images[0].pk]})
    with django_assert_num_queries(5):
        many = staff_client.get(url, {"id": [image.pk for image in images]})

    assert [image["id"] for image in one.json()] == [images[0].pk]
    assert [image["id"] for image in many.json()] == [image.pk for image in images]
