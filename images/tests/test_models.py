"""Where a file goes and what is left behind when a save fails."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError

from images.models import FILENAME_MAX_BYTES, Image, image_upload_to, safe_image_filename
from images.services import image_create
from testutils import UUID, image_bytes


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("photo.png", "photo.png"),
        ("../../etc/passwd", "passwd.png"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.png"),
        ("/absolute/path/pic.png", "pic.png"),
        ("a\x00b.png", "a_b.png"),
        ("line\r\nbreak.png", "line_break.png"),
        ("<script>alert(1)</script>.png", "script.png"),
        ("<img src=x onerror=alert(1)>.png", "img_src_x_onerror_alert_1.png"),
        ("my holiday photo.png", "my_holiday_photo.png"),
        ("évènement 日本.png", "évènement_日本.png"),
        (".png", "image.png"),
        ("...", "image.png"),
        ("", "image.png"),
        ("CON", "CON.png"),
    ],
)
def test_safe_image_filename_reduces_a_client_name_to_a_safe_base_name(name, safe):
    assert safe_image_filename(name, "png", ("png",)) == safe


@pytest.mark.parametrize("name", ["x" * 1000 + ".png", "日本" * 300 + ".png", "😀" * 200])
def test_safe_image_filename_cuts_any_length_to_the_byte_budget(name):
    safe = safe_image_filename(name, "png", ("png",))

    assert len(safe.encode()) <= FILENAME_MAX_BYTES
    assert safe.endswith(".png")
    assert len(safe) > len(".png")


def test_upload_to_follows_the_spec_layout():
    image = Image(user_id=42)

    assert re.fullmatch(rf"images/42/{UUID}_cat\.jpg", image_upload_to(image, "cat.jpg"))
    assert image_upload_to(image, "cat.jpg") != image_upload_to(image, "cat.jpg")


@pytest.mark.django_db
def test_a_long_unicode_name_fits_the_column(user):
    name = "ü" * 400 + ".png"
    image = Image(user=user, image=SimpleUploadedFile(name, image_bytes()))
    image.save()

    image.refresh_from_db()
    assert len(image.image.name) <= Image._meta.get_field("image").max_length
    assert image.image.name.startswith(f"images/{user.pk}/")


@pytest.mark.django_db
def test_a_failed_database_write_removes_the_file_it_stored(user, stored_files):
    existing = Image.objects.create(user=user, image=SimpleUploadedFile("a.png", image_bytes()))
    files_before = stored_files()

    duplicate = Image(pk=existing.pk, user=user, image=SimpleUploadedFile("b.png", image_bytes()))
    with pytest.raises(IntegrityError):
        duplicate.save(force_insert=True)

    assert stored_files() == files_before
    assert Image.objects.count() == 1


@pytest.mark.django_db
def test_size_is_recorded_when_the_file_is_stored(user):
    data = image_bytes(size=(50, 50))
    image = image_create(user=user, file=SimpleUploadedFile("a.png", data))

    image.title = "renamed"
    image.save()

    image.refresh_from_db()
    assert image.size == len(data)
