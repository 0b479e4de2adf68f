"""The image admin pages a staff member uses, rendered for real with a logged-in superuser (`admin_client`)."""

from html import escape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from images.models import Image
from images.services import image_create
from testutils import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_image(user):
    return Image.objects.create(user=user, title="Sunset", image=SimpleUploadedFile("sunset.png", image_bytes()))


def test_image_changelist_shows_owner_title_size_and_preview(admin_client, stored_image):
    response = admin_client.get(reverse("admin:images_image_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Sunset" in html
    assert "alice@example.com" in html
    assert f'<img src="{escape(stored_image.image.url)}"' in html  # a signed URL: & is &amp; in HTML
    assert f"{stored_image.size}\xa0bytes" in html


def test_image_changelist_search_and_filters(admin_client, stored_image, other_user):
    Image.objects.create(user=other_user, title="Forest", image=SimpleUploadedFile("f.png", image_bytes()))
    url = reverse("admin:images_image_changelist")

    by_search = admin_client.get(url, {"q": "bob@example.com"}).content.decode()
    by_owner = admin_client.get(url, {"user__id__exact": stored_image.user_id}).content.decode()

    assert "Forest" in by_search and "Sunset" not in by_search
    assert "Sunset" in by_owner and "Forest" not in by_owner


def test_image_change_form_renders_with_the_file_read_only(admin_client, stored_image):
    response = admin_client.get(reverse("admin:images_image_change", args=[stored_image.pk]))

    assert response.status_code == 200
    assert 'name="image"' not in response.content.decode()
    assert 'name="title"' in response.content.decode()


def test_admin_upload_is_validated_like_the_api(admin_client, user, stored_files):
    url = reverse("admin:images_image_add")
    assert admin_client.get(url).status_code == 200

    bad = SimpleUploadedFile("fake.png", b"not an image", content_type="image/png")
    response = admin_client.post(url, {"user": user.pk, "image": bad, "title": "x", "description": ""})

    assert response.status_code == 200
    assert "the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image" in response.content.decode()
    assert not Image.objects.exists()
    assert stored_files() == []

    good = SimpleUploadedFile("good", image_bytes("JPEG"), content_type="text/plain")
    response = admin_client.post(url, {"user": user.pk, "image": good, "title": "ok", "description": ""})

    assert response.status_code == 302
    image = Image.objects.get()
    assert image.image.name.endswith("_good.jpg")
    assert image.user == user


def test_admin_delete_removes_the_file_after_commit(
    admin_client, stored_image, stored_files, django_capture_on_commit_callbacks
):
    url = reverse("admin:images_image_delete", args=[stored_image.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Image.objects.exists()
    assert stored_files() == []


def test_image_changelist_shows_the_thumbnail_dimensions_format_and_status(
    admin_client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        image = image_create(user=user, title="Wide", file=SimpleUploadedFile("w.png", image_bytes(size=(600, 300))))
    image.refresh_from_db()

    html = admin_client.get(reverse("admin:images_image_changelist")).content.decode()

    assert f'<img src="{escape(image.image.storage.url(image.variants["thumbnail"]))}"' in html
    assert "600 × 300" in html
    assert ">PNG<" in html
    assert ">Ready<" in html


def test_image_changelist_filters_by_format_and_status(admin_client, user):
    Image.objects.create(user=user, title="Pjpeg", format="JPEG", image=SimpleUploadedFile("a.jpg", b"x"))
    Image.objects.create(
        user=user, title="Ppng", format="PNG", processing="failed", image=SimpleUploadedFile("b.png", b"x")
    )
    url = reverse("admin:images_image_changelist")

    by_format = admin_client.get(url, {"format": "JPEG"}).content.decode()
    by_status = admin_client.get(url, {"processing__exact": "failed"}).content.decode()

    assert "Pjpeg" in by_format and "Ppng" not in by_format
    assert "Ppng" in by_status and "Pjpeg" not in by_status


def test_rebuild_variants_action_remakes_the_selected_images(
    admin_client, stored_image, django_capture_on_commit_callbacks
):
    Image.objects.filter(pk=stored_image.pk).update(processing="failed")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:images_image_changelist"),
            {"action": "rebuild_variants", "_selected_action": [stored_image.pk]},
        )

    assert response.status_code == 302
    stored_image.refresh_from_db()
    assert stored_image.processing == "ready"
    assert set(stored_image.variants) == {"thumbnail", "medium"}


def test_the_change_form_shows_each_variant_as_a_linked_thumbnail_with_its_size(
    admin_client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        image = image_create(user=user, title="Wide", file=SimpleUploadedFile("w.png", image_bytes(size=(600, 300))))
    image.refresh_from_db()

    html = admin_client.get(reverse("admin:images_image_change", args=[image.pk])).content.decode()

    for name, label in (("thumbnail", "thumbnail 256 × 128"), ("medium", "medium 600 × 300")):
        url = escape(image.image.storage.url(image.variants[name]))
        assert f'<a href="{url}" style="display:inline-block;margin-right:12px;text-align:center">' in html
        assert (
            f'<img src="{url}" alt="{name}" style="display:block;max-height:96px;max-width:128px">{label}</a>' in html
        )
    assert "{&quot;thumbnail&quot;" not in html and '{"thumbnail"' not in html  # not the raw JSON any more
