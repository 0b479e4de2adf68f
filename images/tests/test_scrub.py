"""images/scrub.py on its own: what each format keeps and loses, and hostile structures refused."""

import hashlib
import io
import struct

import pytest
from PIL import Image as PILImage

from images.scrub import ScrubError, minimal_exif, strip_metadata
from testutils import GIF_COMMENT, GIF_XMP, gif_with_location, image_bytes, phone_photo


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF", "AVIF", "GIF"])
def test_stripping_twice_changes_nothing_more(fmt):
    once = strip_metadata(gif_with_location() if fmt == "GIF" else phone_photo(fmt), fmt)

    assert strip_metadata(once, fmt) == once


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_a_file_without_metadata_comes_back_byte_for_byte(fmt):
    data = image_bytes(fmt, size=(40, 30))

    assert strip_metadata(data, fmt) == data


def test_a_jpeg_keeps_only_the_orientation_of_its_exif():
    stripped = strip_metadata(phone_photo("JPEG"), "JPEG")

    assert minimal_exif(6) in stripped
    with PILImage.open(io.BytesIO(stripped)) as img:
        assert dict(img.getexif()) == {0x0112: 6}


def test_a_jfif_thumbnail_goes_and_its_density_stays():
    data = bytearray(image_bytes("JPEG", size=(40, 30)))
    # Give the JFIF segment a 2 x 1 RGB thumbnail, as some cameras write one.
    length = struct.unpack(">H", data[4:6])[0]
    jfif = bytes(data[6 : 4 + length - 2]) + b"\x02\x01" + b"\xff\x00\x00\x00\x00\xff"
    with_thumbnail = bytes(data[:2]) + b"\xff\xe0" + struct.pack(">H", len(jfif) + 2) + jfif + bytes(data[4 + length :])

    stripped = strip_metadata(with_thumbnail, "JPEG")

    assert stripped == bytes(data)


def test_webp_flags_match_the_chunks_left():
    stripped = strip_metadata(phone_photo("WEBP"), "WEBP")

    assert stripped[12:16] == b"VP8X"
    flags = stripped[20]
    assert flags & 0x08 and not flags & 0x04  # EXIF (the orientation) yes, XMP no
    assert b"XMP " not in stripped
    assert struct.unpack("<I", stripped[4:8])[0] == len(stripped) - 8


def frames_of(data: bytes) -> list[tuple[bytes, list, int, int | None]]:
    """Each frame of an animation as decoded: its pixels, palette, delay, and the loop count."""
    frames = []
    with PILImage.open(io.BytesIO(data)) as img:
        for index in range(img.n_frames):
            img.seek(index)
            frames.append((img.convert("RGBA").tobytes(), img.getpalette(), img.info["duration"], img.info.get("loop")))
    return frames


def test_a_gif_loses_its_comment_and_xmp_and_keeps_every_frame_its_delays_and_its_loop():
    sent = gif_with_location()
    assert GIF_COMMENT in sent and GIF_XMP in sent

    stripped = strip_metadata(sent, "GIF")

    for secret in (GIF_COMMENT, GIF_XMP, b"48.8566", b"48,51.4N", b"XMP DataXMP"):
        assert secret not in stripped
    assert frames_of(stripped) == frames_of(sent)
    assert [duration for _, _, duration, _ in frames_of(stripped)] == [100, 200, 300]
    assert frames_of(stripped)[0][3] == 0  # loops forever
    assert b"NETSCAPE2.0\x03\x01\x00\x00\x00" in stripped
    with PILImage.open(io.BytesIO(stripped)) as img:
        assert "comment" not in img.info and img.n_frames == 3
    assert stripped.endswith(b"\x3b")


def test_a_gif_keeps_its_icc_profile_and_drops_other_applications_and_what_follows_the_trailer():
    data = image_bytes("GIF", size=(8, 8))
    start = 13 + (3 << ((data[10] & 0x07) + 1) if data[10] & 0x80 else 0)
    icc = b"\x21\xff\x0bICCRGBG1012\x04abcd\x00"
    private = b"\x21\xff\x0bMYAPPLIC1.0\x05hello\x00"
    unknown = b"\x21\x42\x03xyz\x00"  # an extension label nobody defined

    stripped = strip_metadata(data[:start] + icc + private + unknown + data[start:] + b"trailing bytes", "GIF")

    assert stripped == data[:start] + icc + data[start:]


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("GIF", b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xfe\x10short"),  # a sub-block past the end
        ("GIF", b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x99"),  # no such block
        ("JPEG", b"\xff\xd8\xff\xe1\xff\xff" + b"\0" * 10),  # a segment longer than the file
        ("JPEG", b"\xff\xd8\x00\x00"),  # no marker where one must be
        ("PNG", b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 2**31) + b"tEXt"),
        ("WEBP", b"RIFF\x20\x00\x00\x00WEBPVP8X" + struct.pack("<I", 2**30)),
        ("HEIF", struct.pack(">I", 0xFFFF) + b"ftypheic"),
        ("AVIF", struct.pack(">I", 16) + b"ftypavif" + b"\0" * 8),  # no meta box at all
    ],
)
def test_structures_that_cannot_be_walked_are_refused(fmt, data):
    with pytest.raises(ScrubError):
        strip_metadata(data, fmt)


@pytest.mark.parametrize(
    ("data", "unchanged"),
    [
        (image_bytes("JPEG", size=(40, 30)), True),  # nothing to remove
        (phone_photo("JPEG"), False),  # Exif with GPS: reduced to the orientation
        (image_bytes("JPEG", size=(40, 30)) + b"a trailer", False),  # what follows the end of image goes
        (phone_photo("PNG"), False),
    ],
)
def test_one_pass_gives_both_checksums_and_the_same_bytes_as_strip_metadata(data, unchanged):
    from django.core.files.base import ContentFile

    from images.scrub import scrub_file

    fmt = "PNG" if data.startswith(b"\x89PNG") else "JPEG"
    source = ContentFile(data, name="x")
    result = scrub_file(source, fmt)
    expected = strip_metadata(data, fmt)

    assert result.unchanged is unchanged
    assert result.file(source, "x").read() == expected and result.size == len(expected)
    assert result.checksum == hashlib.sha256(expected).hexdigest()
    assert result.source_checksum == hashlib.sha256(data).hexdigest()
