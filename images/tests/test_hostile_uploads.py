"""Hostile uploads, one rule at a time: every request may be malicious.

Each test checks the status, the body, and that no row and no file were left behind. The plain validation
rules (size, format, truncated, pixel and frame caps, field lengths) are in test_validators.py.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from testutils import UPLOAD_URL, image_bytes, png_claiming

pytestmark = pytest.mark.django_db

TOO_MANY_PIXELS = "The image has too many pixels; the limit is 50,000,000 (width x height x frames)."
NOT_AN_IMAGE = "Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image."
CORRUPT = "The image is corrupt or truncated."


# --- Uploads: decompression bombs -----------------------------------------------------------------


def test_a_30000_by_30000_bomb_is_refused_from_its_header_in_milliseconds(refused):
    bomb = png_claiming(30000, 30000)
    assert len(bomb) < 1000

    # Refused from the header: no decode (bench/hostile_uploads.py times it).
    assert refused(SimpleUploadedFile("bomb.png", bomb, content_type="image/png")) == [TOO_MANY_PIXELS]


def test_a_bomb_over_our_cap_but_under_pillows_thresholds_is_refused(refused):
    # 8000 x 8000 = 64 MP: over IMAGE_MAX_PIXELS (50 MP), under Pillow's own warning (89 MP).
    assert refused(SimpleUploadedFile("b.png", png_claiming(8000, 8000))) == [TOO_MANY_PIXELS]


def test_pillows_decompression_bomb_warning_is_an_error(refused, settings):
    # 10000 x 10000 = 100 MP lies between Pillow's warning (89 MP) and error (179 MP) thresholds.
    # With our own cap raised out of the way, only the warning-as-error can refuse it before a decode.
    settings.IMAGE_MAX_PIXELS = 10**9

    errors = refused(SimpleUploadedFile("b.png", png_claiming(10000, 10000)))

    assert errors == ["The image has too many pixels; the limit is 1,000,000,000 (width x height x frames)."]


def test_an_animated_gif_within_the_cap_is_accepted_and_kept_byte_for_byte(upload, media_root):
    anim = image_bytes("GIF", (64, 64), frames=6)

    body = upload(SimpleUploadedFile("a.gif", anim, content_type="image/gif"))

    assert (media_root / Image.objects.get(pk=body["id"]).image.name).read_bytes() == anim


# --- Uploads: disguised and corrupt ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("cat.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
        ("cat.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/png"),
        ("cat.jpg", b"<html><script>alert(document.cookie)</script></html>", "image/jpeg"),
        ("cat.gif", b"\x7fELF\x02\x01\x01" + b"\0" * 100, "image/gif"),  # a Linux executable
        ("cat.webp", b"MZ\x90\x00\x03" + b"\0" * 100, "image/webp"),  # a Windows executable
        ("cat.png", b"PK\x03\x04" + b"\0" * 100, "image/png"),  # a zip archive
        ("cat.jpg", b"%PDF-1.7\n" + b"\0" * 100, "image/jpeg"),
        ("cat.png", b"GIF89a<script>alert(1)</script>", "image/png"),  # a polyglot's magic bytes only
    ],
)
def test_anything_disguised_as_an_image_is_refused(refused, name, data, content_type):
    assert refused(SimpleUploadedFile(name, data, content_type=content_type)) == [NOT_AN_IMAGE]


def test_an_image_with_corrupt_data_is_refused(refused):
    data = bytearray(image_bytes("PNG", size=(64, 64)))
    data[60:80] = b"\xff" * 20  # inside the compressed pixel data

    assert refused(SimpleUploadedFile("bad.png", bytes(data))) == [CORRUPT]


# --- Uploads: names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../../etc/passwd", "passwd.png"),
        ("..\\..\\boot.ini", "boot.png"),
        ("a\x00b.png", "ab.png"),  # the multipart parser drops the NUL first
        ("x\r\nSet-Cookie: a=b.png", "x.png"),  # the header ends at the CRLF
        ("<img src=x onerror=alert(1)>.png", "img_src_x_onerror_alert_1.png"),
        ("photo.php.png", "photo_php.png"),
        ("CON.png", "CON.png"),
        ("résumé 写真.png", "résumé_写真.png"),
        ("no-extension", "no-extension.png"),
        ("lying.gif", "lying.png"),
    ],
)
def test_hostile_names_never_reach_the_stored_key(auth_client, user, name, stored):
    file = SimpleUploadedFile(name, image_bytes("PNG"), content_type="image/png")

    response = auth_client.post(UPLOAD_URL, {"image": file}, format="multipart")

    assert response.status_code == 201
    key = Image.objects.get().image.name
    prefix, _, filename = key.rpartition("/")
    assert prefix == f"images/{user.pk}"
    assert filename.split("_", 1)[1] == stored
    assert not any(c in key for c in "\x00\r\n<>\\")


def test_a_name_of_any_length_fits_the_column(auth_client):
    file = SimpleUploadedFile("長" * 5000 + ".png", image_bytes("PNG"), content_type="image/png")

    response = auth_client.post(UPLOAD_URL, {"image": file}, format="multipart")

    assert response.status_code == 201
    assert len(Image.objects.get().image.name) <= 255


# --- Uploads: content type and headers -------------------------------------------------------------------


def test_the_stored_content_type_comes_from_the_bytes_and_responses_forbid_sniffing(auth_client, settings, client):
    file = SimpleUploadedFile("x.png", image_bytes("GIF"), content_type="text/html")
    response = auth_client.post(UPLOAD_URL, {"image": file}, format="multipart")
    assert response["X-Content-Type-Options"] == "nosniff"

    settings.DEBUG = True
    served = client.get(response.json()["image"])

    assert served["Content-Type"] == "image/gif"
    assert served["X-Content-Type-Options"] == "nosniff"
    served.close()


# --- Throttling -------------------------------------------------------------------------------


def test_uploads_are_throttled_per_user(auth_client, other_client, make_image, low_rates):
    statuses = [auth_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart").status_code for _ in range(3)]

    assert statuses == [201, 201, 429]
    assert Image.objects.count() == 2
    assert other_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart").status_code == 201
