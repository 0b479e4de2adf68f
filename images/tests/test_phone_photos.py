"""Photos as phones take them: upright sizes, no location or device data in the stored original
(same pixels, same orientation on screen), HEIC and AVIF held to the rules of every format, srcset-ready
variants. Every file is a real one, made here with Pillow (and pillow-heif for HEIC)."""

import hashlib
import io
import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import ExifTags, ImageOps
from PIL import Image as PILImage

from images.models import Image
from testutils import (
    GIF_COMMENT,
    GIF_XMP,
    GPS_LATITUDE,
    MAKER_NOTE,
    detail_url,
    gif_with_location,
    image_bytes,
    phone_photo,
    url_path,
)

pytestmark = pytest.mark.django_db

TOO_MANY_PIXELS = "The image has too many pixels; the limit is 50,000,000 (width x height x frames)."
CORRUPT = "The image is corrupt or truncated."
NOT_AN_IMAGE = "Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image."
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic", "AVIF": "image/avif"}
EXTENSION = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic", "AVIF": "avif"}


@pytest.fixture
def committed(upload, auth_client, django_capture_on_commit_callbacks):
    """Upload, run the on-commit work (the variants, inline here), and return the image's detail."""

    def do_upload(file: SimpleUploadedFile) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            body = upload(file)
        return auth_client.get(detail_url(body["id"])).json()

    return do_upload


def download(client, url: str) -> bytes:
    """GET a file URL without credentials (as a browser given the URL would) and return its bytes."""
    response = client.get(url)
    assert response.status_code == 200, response
    # Reading the content to its end closes the response (the test client's wrapper, which keeps the
    # test's database connection open; calling close() again would close it).
    return b"".join(response.streaming_content)


def decoded(data: bytes) -> PILImage.Image:
    with PILImage.open(io.BytesIO(data)) as img:
        img.load()
        return img.copy()


# --- No location or device data leaks from originals -------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF", "AVIF"])
def test_the_stored_original_has_no_gps_camera_or_xmp_but_the_same_pixels_and_colour_profile(upload, client, fmt):
    sent = phone_photo(fmt, size=(64, 48))
    assert dict(decoded(sent).getexif().get_ifd(ExifTags.IFD.GPSInfo))[ExifTags.GPS.GPSLatitude] == GPS_LATITUDE

    body = upload(SimpleUploadedFile(f"IMG_0001.{EXTENSION[fmt]}", sent, content_type=MIME[fmt]))
    stored = download(client, body["image"])

    original, kept = decoded(sent), decoded(stored)
    assert kept.format == original.format
    assert kept.tobytes() == original.tobytes()  # bit for bit: nothing was re-encoded
    assert kept.info.get("icc_profile") == original.info["icc_profile"]
    exif = kept.getexif()
    assert dict(exif.get_ifd(ExifTags.IFD.GPSInfo)) == {}
    assert not set(exif) - {ExifTags.Base.Orientation}  # no make, model, pointers to private or GPS data
    assert dict(exif.get_ifd(ExifTags.IFD.Exif)) == {}  # no maker note, no serial number
    for secret in (MAKER_NOTE, b"SN-123456", b"PhoneMaker", b"48,51.4N", b"taken at home"):
        assert secret not in stored
    assert not {"comment", "Comment", "XML:com.adobe.xmp"} & set(kept.info)
    assert kept.info.get("xmp", b"").strip() in (b"", b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    assert (body["checksum"], body["size"]) == (hashlib.sha256(stored).hexdigest(), len(stored))
    assert body["upload_checksum"] == hashlib.sha256(sent).hexdigest()
    assert (body["format"], body["mime_type"]) == (fmt, MIME[fmt])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "AVIF"])
def test_a_turned_photo_keeps_its_orientation_on_screen_and_is_recorded_upright(upload, client, fmt):
    # Stored 64 x 48 with EXIF orientation 6 (AVIF: the irot its writer makes of it): shown 48 x 64.
    sent = phone_photo(fmt, size=(64, 48), orientation=6)

    body = upload(SimpleUploadedFile(f"p.{EXTENSION[fmt]}", sent))
    stored = download(client, body["image"])

    on_screen = ImageOps.exif_transpose(decoded(stored))
    assert on_screen.size == (48, 64)
    assert on_screen.tobytes() == ImageOps.exif_transpose(decoded(sent)).tobytes()
    assert (body["width"], body["height"]) == (48, 64)
    assert Image.objects.get(pk=body["id"]).width == 48


def test_a_heic_is_recorded_at_the_size_its_reader_shows(upload, client):
    sent = phone_photo("HEIF", size=(64, 48))

    body = upload(SimpleUploadedFile("IMG_0001.HEIC", sent, content_type="image/heic"))

    assert (body["width"], body["height"]) == decoded(sent).size == decoded(download(client, body["image"])).size
    assert url_path(body["image"]).endswith("_IMG_0001.heic")
    assert body["original_filename"] == "IMG_0001.heic"


def test_with_strip_metadata_off_originals_are_stored_byte_for_byte(upload, client, settings):
    settings.IMAGE_STRIP_METADATA = False
    sent = phone_photo("JPEG")

    body = upload(SimpleUploadedFile("p.jpg", sent))

    assert download(client, body["image"]) == sent
    assert body["checksum"] == body["upload_checksum"] == hashlib.sha256(sent).hexdigest()
    assert (body["width"], body["height"]) == (48, 64)  # upright either way


def test_a_file_with_nothing_to_remove_is_stored_byte_for_byte(upload, client):
    sent = image_bytes("JPEG", size=(40, 30))

    body = upload(SimpleUploadedFile("plain.jpg", sent))

    assert download(client, body["image"]) == sent
    assert body["checksum"] == body["upload_checksum"]


def test_an_mpo_keeps_its_first_picture_only(upload, client):
    # A phone JPEG with a second picture after the first's end (Pillow names it MPO).
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 48), "red").save(
        buffer, "MPO", save_all=True, append_images=[PILImage.new("RGB", (64, 48), "blue")], exif=PILImage.Exif()
    )
    sent = buffer.getvalue()

    body = upload(SimpleUploadedFile("IMG.jpg", sent))
    stored = download(client, body["image"])

    with PILImage.open(io.BytesIO(stored)) as img:
        assert (img.format, getattr(img, "n_frames", 1)) == ("JPEG", 1)
        assert img.convert("RGB").tobytes() == decoded(sent).convert("RGB").tobytes()
    assert len(stored) < len(sent) * 0.7


def test_an_animated_gif_loses_the_location_in_its_comment_and_xmp_and_keeps_its_frames(upload, client):
    sent = gif_with_location()

    body = upload(SimpleUploadedFile("holiday.gif", sent, content_type="image/gif"))
    stored = download(client, body["image"])

    for secret in (GIF_COMMENT, GIF_XMP, b"48.8566", b"48,51.4N"):
        assert secret not in stored
    with PILImage.open(io.BytesIO(sent)) as before, PILImage.open(io.BytesIO(stored)) as after:
        assert after.format == "GIF" and after.n_frames == before.n_frames == 3
        assert after.info["loop"] == before.info["loop"] == 0
        assert "comment" not in after.info
        for index in range(3):
            before.seek(index)
            after.seek(index)
            assert after.info["duration"] == before.info["duration"] == 100 * (index + 1)
            assert after.convert("RGBA").tobytes() == before.convert("RGBA").tobytes()
    assert (body["checksum"], body["size"]) == (hashlib.sha256(stored).hexdigest(), len(stored))
    assert body["upload_checksum"] == hashlib.sha256(sent).hexdigest()


# --- HEIC and AVIF are held to the rules of every format ----------------------------------------------------


def with_claimed_size(data: bytes, width: int, height: int) -> bytes:
    """The file with its image spatial extents (ispe) box claiming width x height: a decompression bomb."""
    at = data.find(b"ispe")
    assert at > 0
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_heic_or_avif_bomb_is_refused_from_its_header(refused, fmt):
    small = io.BytesIO()
    PILImage.new("RGB", (64, 64), "red").save(small, fmt)
    bomb = with_claimed_size(small.getvalue(), 8000, 8000)  # 64 MP over our 50 MP cap, in < 1 kB

    assert refused(SimpleUploadedFile(f"bomb.{EXTENSION[fmt]}", bomb)) == [TOO_MANY_PIXELS]


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_truncated_heic_or_avif_is_refused(refused, fmt):
    data = phone_photo(fmt, size=(96, 64))

    errors = refused(SimpleUploadedFile(f"cut.{EXTENSION[fmt]}", data[: len(data) * 2 // 3]))

    assert errors in ([CORRUPT], [NOT_AN_IMAGE])


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_count_toward_the_pixel_cap(refused, settings, fmt):
    settings.IMAGE_MAX_PIXELS = 64 * 48 - 1

    errors = refused(SimpleUploadedFile(f"p.{EXTENSION[fmt]}", phone_photo(fmt, size=(64, 48))))

    assert errors == ["The image has too many pixels; the limit is 3,071 (width x height x frames)."]


# --- srcset-ready variants ------------------------------------------------------------------------------------


def test_each_variant_carries_its_url_width_and_height(committed, client, media_root):
    body = committed(SimpleUploadedFile("wide.png", image_bytes("PNG", size=(2000, 1000))))

    assert set(body["variants"]) == {"thumbnail", "medium"}
    for name, size in (("thumbnail", (256, 128)), ("medium", (1024, 512))):
        variant = body["variants"][name]
        assert set(variant) == {"url", "width", "height"}
        assert (variant["width"], variant["height"]) == size
        assert decoded(download(client, variant["url"])).size == size


@pytest.mark.parametrize("fmt", ["JPEG", "HEIF", "AVIF"])
def test_variants_of_phone_photos_are_upright_and_sized(committed, client, fmt):
    body = committed(SimpleUploadedFile(f"p.{EXTENSION[fmt]}", phone_photo(fmt, size=(300, 200))))

    assert body["processing"] == "ready"
    upright = (body["width"], body["height"])
    assert upright == ((200, 300) if fmt in ("JPEG", "AVIF") else (300, 200))  # HEIF: no irot written
    medium, thumb = body["variants"]["medium"], body["variants"]["thumbnail"]
    assert (medium["width"], medium["height"]) == upright  # never upscaled
    assert (thumb["width"], thumb["height"]) == tuple(round(side * 256 / max(upright)) for side in upright)
    for variant in (medium, thumb):
        made = decoded(download(client, variant["url"]))
        assert made.size == (variant["width"], variant["height"])
        assert not made.getexif()


def test_rebuild_variants_corrects_the_sizes_of_rows_recorded_before(committed, user):
    body = committed(SimpleUploadedFile("p.jpg", phone_photo("JPEG", size=(64, 48))))
    # As a row was recorded before variant sizes were kept: stored size, no variant sizes.
    Image.objects.filter(pk=body["id"]).update(width=64, height=48, variant_sizes={})

    call_command("rebuild_variants", "--missing", stdout=io.StringIO(), stderr=io.StringIO())

    image = Image.objects.get(pk=body["id"])
    assert (image.width, image.height) == (48, 64)
    assert image.variant_sizes == {"thumbnail": [48, 64], "medium": [48, 64]}
    assert image.upload_checksum == body["upload_checksum"]  # kept: the stored file cannot tell it
