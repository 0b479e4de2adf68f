"""What each upload becomes: metadata from its bytes, and variants made by the (eager) background task."""

import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import ExifTags
from PIL import Image as PILImage

from images.models import Image
from images.tasks import make_variants
from testutils import LIST_URL, delete_url, detail_url, image_bytes, two_colour_picture, url_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload_committed(upload, auth_client, django_capture_on_commit_callbacks):
    """Upload, run the on-commit work (the variants task, eager here), and return the image's detail."""

    def do_upload(file=None, **fields) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            body = upload(file, **fields)
        return auth_client.get(detail_url(body["id"])).json()

    return do_upload


def open_stored(media_root: Path, url: str) -> PILImage.Image:
    """Open the stored file behind a local /media/ URL."""
    return PILImage.open(media_root / url_path(url).split("/media/", 1)[1])


def jpeg_with_exif(size: tuple[int, int], orientation: int = 1) -> bytes:
    """A JPEG with orientation, camera and GPS data in its EXIF."""
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "CameraMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    buffer = io.BytesIO()
    two_colour_picture(size, noise=False).save(buffer, "JPEG", exif=exif, quality=95)
    return buffer.getvalue()


# --- Metadata -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "frames"),
    [("JPEG", "image/jpeg", 1), ("PNG", "image/png", 1), ("GIF", "image/gif", 3), ("WEBP", "image/webp", 1)],
)
def test_metadata_is_recorded_from_the_bytes_and_shown(upload, auth_client, fmt, mime, frames):
    data = image_bytes(fmt, size=(120, 80), frames=frames)

    body = upload(SimpleUploadedFile("pic", data, content_type="application/octet-stream"))

    expected = {
        "width": 120,
        "height": 80,
        "format": fmt,
        "mime_type": mime,
        "size": len(data),
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    assert {key: body[key] for key in expected} == expected
    shown = auth_client.get(detail_url(body["id"])).json()
    assert {key: shown[key] for key in expected} == expected
    listed = auth_client.get(LIST_URL).json()[0]
    assert {key: listed[key] for key in expected} == expected


def test_the_original_is_stored_byte_for_byte(upload, media_root, settings):
    settings.IMAGE_STRIP_METADATA = False  # the default strips metadata (test_phone_photos.py)
    data = jpeg_with_exif((64, 48), orientation=6)

    body = upload(SimpleUploadedFile("o.jpg", data, content_type="image/jpeg"))

    assert (media_root / Image.objects.get(pk=body["id"]).image.name).read_bytes() == data


# --- Variants ---------------------------------------------------------------------------------------


def test_variants_fit_their_boxes_as_webp_beside_the_original(upload_committed, media_root, user):
    body = upload_committed(SimpleUploadedFile("wide.png", image_bytes("PNG", size=(2000, 1000))))

    assert body["processing"] == "ready"
    assert set(body["variants"]) == {"thumbnail", "medium"}
    image = Image.objects.get(pk=body["id"])
    for name, box_size in (("thumbnail", (256, 128)), ("medium", (1024, 512))):
        url = body["variants"][name]["url"]
        assert url.startswith("http://testserver/media/images/")
        with open_stored(media_root, url) as variant:
            assert (variant.format, variant.size) == ("WEBP", box_size)
        key = image.variants[name]
        assert key.startswith(f"images/{user.pk}/")
        assert key == image.image.name.rpartition(".")[0] + f".{name}.webp"


def test_variants_are_never_upscaled(upload_committed, media_root):
    body = upload_committed(SimpleUploadedFile("small.png", image_bytes("PNG", size=(100, 50))))

    for url in (variant["url"] for variant in body["variants"].values()):
        with open_stored(media_root, url) as variant:
            assert variant.size == (100, 50)


def test_variants_apply_exif_orientation_and_carry_no_metadata(upload_committed, media_root):
    # Stored 300 x 200, orientation 6: shown turned 90 degrees clockwise, 200 x 300.
    body = upload_committed(SimpleUploadedFile("phone.jpg", jpeg_with_exif((300, 200), orientation=6)))

    with open_stored(media_root, body["variants"]["thumbnail"]["url"]) as thumb:
        assert thumb.size == (171, 256)
        rgb = thumb.convert("RGB")
        # Turned clockwise, the left (red) half is now on top and the right (blue) half below.
        assert rgb.getpixel((85, 20))[0] > 200 and rgb.getpixel((85, 235))[2] > 200
        assert not thumb.getexif()
        assert not {"exif", "icc_profile", "xmp"} & set(thumb.info)
    with open_stored(media_root, body["variants"]["medium"]["url"]) as medium:
        assert medium.size == (200, 300)
        assert not medium.getexif()


def test_an_animated_gif_gives_a_still_of_its_first_frame(upload_committed, media_root):
    body = upload_committed(SimpleUploadedFile("anim.gif", image_bytes("GIF", size=(64, 64), frames=5)))

    with open_stored(media_root, body["variants"]["thumbnail"]["url"]) as thumb:
        assert getattr(thumb, "n_frames", 1) == 1
        assert thumb.convert("RGB").getpixel((10, 10))[0] > 200  # the first frame is red


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_upload_answers_with_its_variants_ready(upload):
    body = upload(SimpleUploadedFile("p.png", image_bytes("PNG", size=(300, 300))))

    assert body["processing"] == "ready"
    assert all(variant["url"].startswith("http://testserver/media/") for variant in body["variants"].values())


def test_variants_are_pending_until_the_row_commits(upload):
    body = upload()  # the test's transaction never commits, so the task is not run

    assert body["processing"] == "pending"
    assert body["variants"] == {"thumbnail": None, "medium": None}


def test_deleting_an_image_removes_its_variants(
    upload_committed, auth_client, stored_files, django_capture_on_commit_callbacks
):
    body = upload_committed()
    assert len(stored_files()) == 3

    with django_capture_on_commit_callbacks(execute=True):
        auth_client.delete(delete_url(body["id"]))

    assert stored_files() == []


def test_a_task_for_a_deleted_image_is_a_no_op(upload, stored_files):
    body = upload()
    Image.objects.filter(pk=body["id"]).delete()

    make_variants.delay(body["id"])

    assert stored_files() == [] or all(".thumbnail." not in f and ".medium." not in f for f in stored_files())


def test_an_image_that_cannot_be_processed_is_marked_failed(upload, media_root):
    body = upload()
    image = Image.objects.get(pk=body["id"])
    (media_root / image.image.name).write_bytes(b"no longer an image")

    make_variants.delay(image.pk)

    image.refresh_from_db()
    assert (image.processing, image.variants) == ("failed", {})


def test_variant_settings_are_read_at_run_time(upload_committed, settings, media_root):
    settings.IMAGE_VARIANTS = {"tiny": (16, 16)}

    body = upload_committed(SimpleUploadedFile("p.png", image_bytes("PNG", size=(64, 32))))

    assert set(body["variants"]) == {"tiny"}
    with open_stored(media_root, body["variants"]["tiny"]["url"]) as tiny:
        assert tiny.size == (16, 8)


def test_with_no_variants_configured_an_upload_is_ready_with_none(upload_committed, settings, stored_files):
    settings.IMAGE_VARIANTS = {}

    body = upload_committed()

    assert (body["processing"], body["variants"]) == ("ready", {})
    assert len(stored_files()) == 1  # the original only


# --- rebuild_variants -------------------------------------------------------------------------------


def rebuild(*args: str) -> str:
    out = io.StringIO()
    call_command("rebuild_variants", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_rebuild_variants_replaces_the_files_and_keeps_nothing_stale(upload_committed, stored_files, media_root):
    body = upload_committed()
    before = set(Image.objects.get(pk=body["id"]).variants.values())
    for name in before:  # a rebuild must write new files, not keep these
        (media_root / name).write_bytes(b"stale")

    assert "Rebuilt the variants of 1 image(s), 0 failed." in rebuild()

    after = set(Image.objects.get(pk=body["id"]).variants.values())
    # One name per variant (a job run again replaces its files in place, never duplicates them).
    assert after == before
    for name in after:
        with PILImage.open(media_root / name) as variant:  # a real WebP again, where "stale" was
            assert variant.format == "WEBP"
    assert set(stored_files()) == after | {Image.objects.get(pk=body["id"]).image.name}


def test_rebuild_variants_missing_and_user_select_the_images(upload, upload_committed, other_user):
    ready = upload_committed()
    pending = upload()  # never committed: still pending
    Image.objects.create(user=other_user, image=SimpleUploadedFile("o.png", image_bytes()), width=1)

    assert "of 2 image(s)" in rebuild("--missing")
    assert Image.objects.get(pk=pending["id"]).processing == "ready"
    assert "of 0 image(s)" in rebuild("--missing")
    assert "of 2 image(s)" in rebuild("--user", str(ready and Image.objects.get(pk=ready["id"]).user_id))


def test_rebuild_variants_backfills_metadata_of_older_rows(user):
    data = image_bytes("PNG", size=(30, 20))
    image = Image.objects.create(user=user, image=SimpleUploadedFile("old.png", data))
    assert image.width is None

    rebuild("--missing")

    image.refresh_from_db()
    assert (image.width, image.height, image.format, image.checksum) == (
        30,
        20,
        "PNG",
        hashlib.sha256(data).hexdigest(),
    )
    assert image.processing == "ready"


def test_rebuild_variants_reports_failures(user, media_root):
    image = Image.objects.create(user=user, image=SimpleUploadedFile("x.png", image_bytes()), width=1)
    (media_root / image.image.name).write_bytes(b"garbage")

    with pytest.raises(CommandError, match="1 image\\(s\\) failed"):
        rebuild()
    image.refresh_from_db()
    assert image.processing == "failed"
