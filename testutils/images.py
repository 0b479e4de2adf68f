"""Real images made with Pillow in memory: plain ones, photos as phones take them, photo-like ones, hostile ones."""

import io
import struct
import zlib

from PIL import ExifTags
from PIL import Image as PILImage


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (32, 24), frames: int = 1, color: str | tuple[int, int, int] = "red"
) -> bytes:
    """Encode a real image with Pillow."""
    buffer = io.BytesIO()
    first = PILImage.new("RGB", size, color)
    if frames > 1:
        rest = [PILImage.new("RGB", size, (i * 40 % 256, 0, 0)) for i in range(1, frames)]
        first.save(buffer, fmt, save_all=True, append_images=rest)
    else:
        first.save(buffer, fmt)
    return buffer.getvalue()


def noisy_gradient(size: tuple[int, int], sigma: float = 30) -> PILImage.Image:
    """A photo-like picture, a gradient with noise: it compresses and decodes about as a photo does."""
    gradient = PILImage.linear_gradient("L").resize(size)
    noise = PILImage.effect_noise(size, sigma)
    return PILImage.merge("RGB", (gradient, noise, PILImage.blend(gradient, noise, 0.5)))


def photo_jpeg(width: int, height: int, quality: int = 90) -> bytes:
    """A photo-like JPEG (noisy_gradient) at this quality."""
    buffer = io.BytesIO()
    noisy_gradient((width, height)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose header claims width x height pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )


# --- Photos as phones take them: location, device data, orientation ------------------------------------

# Where the photos below were "taken": 48°51'24" N, 2°21'3" E.
GPS_LATITUDE = (48.0, 51.0, 24.0)
XMP_WITH_LOCATION = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4N"/></rdf:RDF></x:xmpmeta>'
)
MAKER_NOTE = b"SERIAL-0042-maker-note"


def phone_exif(orientation: int = 6, maker_note: bytes = MAKER_NOTE) -> PILImage.Exif:
    """EXIF as a phone writes it: orientation, make and model, a maker note, a body serial number, GPS."""
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    private = exif.get_ifd(ExifTags.IFD.Exif)
    private[ExifTags.Base.MakerNote] = maker_note
    private[ExifTags.Base.BodySerialNumber] = "SN-123456"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    return exif


def srgb_profile() -> bytes:
    """An sRGB ICC profile, as phones embed one."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def two_colour_picture(size: tuple[int, int], noise: bool = True) -> PILImage.Image:
    """Left half red, right half blue (shows which way a picture was turned), with some noise unless told."""
    img = PILImage.new("RGB", size, "red")
    img.paste(PILImage.new("RGB", (size[0] // 2, size[1]), "blue"), (size[0] // 2, 0))
    return PILImage.blend(img, PILImage.effect_noise(size, 30).convert("RGB"), 0.1) if noise else img


def phone_photo(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), orientation: int = 6) -> bytes:
    """A photo with GPS, a maker note, XMP, an ICC profile and an orientation, in JPEG, WEBP, HEIF or AVIF.

    PNG gets the same EXIF (eXIf) and its text chunks: a comment and the XMP (iTXt).
    """
    from PIL import PngImagePlugin

    options: dict = {"exif": phone_exif(orientation), "icc_profile": srgb_profile()}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "taken at home")
        info.add_itxt("XML:com.adobe.xmp", XMP_WITH_LOCATION.decode())
        options["pnginfo"] = info
    else:
        options["xmp"] = XMP_WITH_LOCATION
    if fmt == "JPEG":
        options |= {"comment": b"taken at home", "quality": 95}
    buffer = io.BytesIO()
    two_colour_picture(size).save(buffer, fmt, **options)
    return buffer.getvalue()


GIF_COMMENT = b"Taken at 48.8566 N, 2.3522 E"
GIF_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="48,51.4N"/></x:xmpmeta>'


def gif_with_location(frames: int = 3) -> bytes:
    """An animation (looping forever, a delay per frame) with its location in a comment and in XMP.

    Pillow writes the comment; the XMP goes in an application extension "XMP DataXMP" with its "magic
    trailer" (the XMP bytes read as sub-block sizes lead any reader to the terminator), as Adobe's tools write it.
    """
    palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] * 64
    images = []
    for index in range(frames):
        frame = PILImage.new("P", (24, 16), index % 4)
        frame.putpalette(palette)
        frame.paste((index + 1) % 4, (index * 4, 2, index * 4 + 6, 10))
        images.append(frame)
    buffer = io.BytesIO()
    durations = [100 * (index + 1) for index in range(frames)]
    images[0].save(
        buffer, "GIF", save_all=True, append_images=images[1:], duration=durations, loop=0, comment=GIF_COMMENT
    )
    data = buffer.getvalue()
    flags = data[10]
    start = 13 + (3 << ((flags & 0x07) + 1) if flags & 0x80 else 0)  # after the global colour table
    xmp = b"\x21\xff\x0bXMP DataXMP" + GIF_XMP + b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    return data[:start] + xmp + data[start:]
