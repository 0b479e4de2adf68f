"""images/scrub.py on its own: what each format keeps and loses, and hostile structures refused."""

import io
import struct

import pytest
from PIL import Image as PILImage

from images.scrub import ScrubError, minimal_exif, strip_metadata
from testutils import image_bytes, phone_photo


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF", "AVIF"])
def test_stripping_twice_changes_nothing_more(fmt):
    once = strip_metadata(phone_photo(fmt), fmt)

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


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
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
