"""Upload validation through the API: what a client sends, what it is told, and that nothing is left behind.

Each rule is checked once, here; test_hostile_uploads.py has the attacks (bombs, disguised files, names).
The `refused` fixture (conftest.py) checks the JSON 400 and that no row and no file were left.
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from testutils import image_bytes, url_path

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fmt", "name", "mime", "stored_suffix"),
    [
        ("JPEG", "photo.jpg", "image/jpeg", "photo.jpg"),
        ("JPEG", "photo.JPEG", "image/jpeg", "photo.jpeg"),
        ("PNG", "photo.png", "image/png", "photo.png"),
        ("GIF", "photo.gif", "image/gif", "photo.gif"),
        ("WEBP", "photo.webp", "image/webp", "photo.webp"),
    ],
)
def test_each_allowed_format_is_accepted(upload, fmt, name, mime, stored_suffix):
    body = upload(SimpleUploadedFile(name, image_bytes(fmt), content_type=mime))

    assert url_path(body["image"]).endswith("_" + stored_suffix)


def test_an_animated_gif_is_accepted(upload):
    body = upload(SimpleUploadedFile("anim.gif", image_bytes("GIF", frames=4), content_type="image/gif"))

    assert url_path(body["image"]).endswith("_anim.gif")


@pytest.mark.parametrize(
    ("name", "fmt", "stored"),
    [
        ("holiday", "PNG", "holiday.png"),  # no extension
        ("holiday.gif", "PNG", "holiday.png"),  # a lying extension
        ("holiday.exe", "JPEG", "holiday.jpg"),
        ("evil.php.jpg", "JPEG", "evil_php.jpg"),  # no double extensions
    ],
)
def test_the_stored_name_takes_the_detected_formats_extension(upload, name, fmt, stored):
    body = upload(SimpleUploadedFile(name, image_bytes(fmt), content_type="image/png"))

    assert url_path(body["image"]).endswith("_" + stored)


def test_the_content_type_claim_is_ignored(upload):
    body = upload(SimpleUploadedFile("real.png", image_bytes("PNG"), content_type="text/html"))

    assert url_path(body["image"]).endswith("_real.png")


def test_a_file_over_the_size_limit_is_refused(refused, settings):
    data = image_bytes("PNG", size=(64, 64))
    settings.IMAGE_MAX_UPLOAD_SIZE = len(data) - 1

    errors = refused(SimpleUploadedFile("big.png", data, content_type="image/png"))

    assert len(errors) == 1
    assert errors[0].startswith("The image is too large")


def test_the_default_size_limit_is_10_mb(refused, settings):
    assert settings.IMAGE_MAX_UPLOAD_SIZE == 10 * 1024 * 1024
    # A valid PNG header followed by padding: refused for its size before it is even opened.
    data = image_bytes("PNG") + b"\0" * (10 * 1024 * 1024)

    errors = refused(SimpleUploadedFile("huge.png", data, content_type="image/png"))

    assert errors == ["The image is too large (10.0\xa0MB); the limit is 10.0\xa0MB."]


# Was also config/tests/test_hostile.py::test_a_zero_byte_file_is_refused, with the same file.
@pytest.mark.parametrize(
    ("name", "mime"), [("empty.png", "image/png"), ("empty", "application/octet-stream")], ids=["png", "no-claim"]
)
def test_an_empty_file_is_refused(refused, name, mime):
    assert refused(SimpleUploadedFile(name, b"", content_type=mime)) == ["The submitted file is empty."]


@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("notes.jpg", b"just some text, not a picture", "image/jpeg"),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
        ("page.png", b"<!DOCTYPE html><html><body>hi</body></html>", "image/png"),
        ("program.gif", b"MZ\x90\x00" + b"\0" * 200, "image/gif"),
    ],
)
def test_files_that_are_not_images_are_refused_whatever_their_name(refused, name, data, mime):
    assert refused(SimpleUploadedFile(name, data, content_type=mime)) == [
        "Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image."
    ]


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_image_formats_outside_the_allow_list_are_refused(refused, fmt):
    assert refused(SimpleUploadedFile(f"pic.{fmt.lower()}", image_bytes(fmt), content_type="image/png")) == [
        "Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image."
    ]


# Two cuts: half of a 256 x 256 image claimed as PNG, and two thirds of a 200 x 200 one sent as text/plain
# (the second was config/tests/test_hostile.py::test_a_truncated_image_is_refused).
@pytest.mark.parametrize(
    ("side", "sigma", "kept", "mime"),
    [(256, 64, (1, 2), "image/png"), (200, 80, (2, 3), "text/plain")],
    ids=["half", "two-thirds"],
)
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_a_truncated_image_is_refused(refused, fmt, side, sigma, kept, mime):
    buffer = io.BytesIO()
    PILImage.effect_noise((side, side), sigma).convert("RGB").save(buffer, fmt)
    data = buffer.getvalue()
    cut = data[: len(data) * kept[0] // kept[1]]

    errors = refused(SimpleUploadedFile(f"cut.{fmt.lower()}", cut, content_type=mime))

    assert errors in (
        ["The image is corrupt or truncated."],
        ["Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image."],
    )


def test_an_image_over_the_pixel_cap_is_refused(refused, settings):
    settings.IMAGE_MAX_PIXELS = 32 * 32 - 1

    errors = refused(SimpleUploadedFile("wide.png", image_bytes("PNG", size=(32, 32)), content_type="image/png"))

    assert errors == ["The image has too many pixels; the limit is 1,023 (width x height x frames)."]


# The 64 x 64 case was config/tests/test_hostile.py::test_every_frame_of_an_animation_counts_toward_the_pixel_cap.
@pytest.mark.parametrize(
    ("side", "frames", "mime"), [(32, 3, "image/gif"), (64, 5, "text/plain")], ids=["32px", "64px"]
)
def test_every_frame_counts_toward_the_pixel_cap(refused, upload, settings, side, frames, mime):
    settings.IMAGE_MAX_PIXELS = side * side * frames
    upload(SimpleUploadedFile("within.gif", image_bytes("GIF", (side, side), frames=frames), content_type=mime))
    over = image_bytes("GIF", (side, side), frames=frames + 1)

    errors = refused(SimpleUploadedFile("over.gif", over, content_type=mime))

    assert errors[0].startswith("The image has too many pixels")


# Was also config/tests/test_hostile.py::test_an_oversized_title_is_refused_under_title (the "x" title).
@pytest.mark.parametrize("title", ["t" * 256, "x" * 256], ids=["t", "x"])
def test_a_title_over_255_characters_is_refused(refused, make_image, title):
    assert refused(make_image(), under="title", title=title) == ["Ensure this field has no more than 255 characters."]


# The default limit was config/tests/test_hostile.py::test_an_oversized_description_is_refused_under_description.
@pytest.mark.parametrize(
    ("limit", "description", "message"),
    [
        (10, "d" * 11, "Ensure this field has no more than 10 characters."),
        (None, "x" * 5001, "Ensure this field has no more than 5000 characters."),  # the default limit
    ],
    ids=["setting", "default"],
)
def test_a_description_over_the_limit_is_refused(refused, make_image, settings, limit, description, message):
    if limit is not None:
        settings.IMAGE_DESCRIPTION_MAX_LENGTH = limit

    assert refused(make_image(), under="description", description=description) == [message]


def test_a_phone_jpeg_with_extra_pictures_mpo_is_accepted_as_a_jpeg(upload):
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 48), "red").save(
        buffer, "MPO", save_all=True, append_images=[PILImage.new("RGB", (64, 48), "blue")]
    )

    body = upload(SimpleUploadedFile("IMG_0001", buffer.getvalue(), content_type="image/jpeg"))

    assert (body["format"], body["mime_type"], body["width"], body["height"]) == ("JPEG", "image/jpeg", 64, 48)
    assert url_path(body["image"]).endswith("_IMG_0001.jpg")
