"""What an upload must be: a real JPEG, PNG, GIF, WebP, HEIC/HEIF or AVIF image within the size and pixel caps.

One path for every way in (API, admin, commands): `validate_image_file` checks the file, through
`images.services.image_file_metadata`; `validate_description_length` is the description field's own.
The bytes decide the format; the client's filename and Content-Type are never believed.
"""

import struct
import warnings
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.template.defaultfilters import filesizeformat
from PIL import ExifTags, Image, JpegImagePlugin, UnidentifiedImageError


@dataclass(frozen=True)
class ImageFormat:
    """An allowed format: Pillow's name for it, its MIME type and its file extensions (first is canonical)."""

    name: str
    mime_type: str
    extensions: tuple[str, ...]


ALLOWED_FORMATS = {
    fmt.name: fmt
    for fmt in (
        ImageFormat("JPEG", "image/jpeg", ("jpg", "jpeg")),
        ImageFormat("PNG", "image/png", ("png",)),
        ImageFormat("GIF", "image/gif", ("gif",)),
        ImageFormat("WEBP", "image/webp", ("webp",)),
        # Phones' own formats: HEIC through pillow-heif (registered in ImagesConfig.ready),
        # AVIF through Pillow itself. Both are checked exactly as the others: header, pixel cap, decode.
        ImageFormat("HEIF", "image/heic", ("heic", "heif", "hif")),
        ImageFormat("AVIF", "image/avif", ("avif",)),
    )
}


# Pillow names a JPEG carrying extra pictures (phone photos with a depth map or a preview) "MPO"; its
# bytes are a JPEG, which every browser shows as one.
FORMAT_ALIASES = {"MPO": "JPEG"}


@dataclass(frozen=True)
class ImageInfo:
    """What the bytes of an accepted image are."""

    format: ImageFormat
    width: int
    height: int
    frames: int
    orientation: int = 1  # EXIF Orientation still to apply on screen (1: none)

    @property
    def upright_size(self) -> tuple[int, int]:
        """Width and height as displayed: EXIF orientations 5 to 8 turn the image a quarter."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


def validate_image_file(file: File) -> ImageInfo:
    """Check size, format, pixel count and integrity; raise ValidationError with a clear message."""
    size = file.size
    if not size:
        raise ValidationError("The submitted file is empty.", code="empty")
    max_size = settings.IMAGE_MAX_UPLOAD_SIZE
    if size > max_size:
        raise ValidationError(
            f"The image is too large ({filesizeformat(size)}); the limit is {filesizeformat(max_size)}.",
            code="file_too_large",
        )
    file.seek(0)
    try:
        # Pillow's decompression-bomb warning becomes an error: a bomb is refused, never decoded.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file, formats=list(ALLOWED_FORMATS)) as img:
                fmt = ALLOWED_FORMATS.get(FORMAT_ALIASES.get(img.format, img.format))
                if fmt is None:
                    raise UnidentifiedImageError(img.format)
                info = ImageInfo(fmt, img.width, img.height, getattr(img, "n_frames", 1))
                _check_pixels(info)
                _decode_every_frame(img)
                # After the decode: the header alone is all a bomb ever gets read of. (pillow-heif has
                # applied a HEIC's rotation already and reports 1; Pillow's AVIF reports its irot here.)
                info = replace(info, orientation=_orientation(img))
    except UnidentifiedImageError:
        raise ValidationError(
            "Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image.",
            code="invalid_image",
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error):
        raise ValidationError("The image is corrupt or truncated.", code="corrupt_image") from None
    finally:
        file.seek(0)
    return info


def validate_description_length(value: str) -> None:
    """Refuse a description over IMAGE_DESCRIPTION_MAX_LENGTH characters (read when called)."""
    limit = settings.IMAGE_DESCRIPTION_MAX_LENGTH
    if len(value) > limit:
        raise ValidationError(f"Ensure this field has no more than {limit} characters.", code="max_length")


def _check_pixels(info: ImageInfo) -> None:
    # From the header alone, before any decoding: every frame of an animation counts.
    if info.width * info.height * info.frames > settings.IMAGE_MAX_PIXELS:
        raise _too_many_pixels()


def _too_many_pixels() -> ValidationError:
    limit = settings.IMAGE_MAX_PIXELS
    return ValidationError(
        f"The image has too many pixels; the limit is {limit:,} (width x height x frames).", code="too_many_pixels"
    )


def _orientation(img: Image.Image) -> int:
    # An unreadable EXIF block is no reason to refuse pixels that decode: it counts as no rotation.
    try:
        img.seek(0)
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error):
        return 1
    return orientation if orientation in range(1, 9) else 1


def _decode_every_frame(img: Image.Image) -> None:
    # A decode proves the data is whole; truncated or corrupt files fail here. A JPEG is decoded at 1/8 scale
    # (draft): libjpeg still reads and entropy-decodes every byte of every scan, so a truncated or corrupt one
    # fails as in a full decode, but only one coefficient of each 8 x 8 block is turned into a pixel: a fraction
    # of the time, and 1/64 of the memory (a 24 MP photo is 0.4 MP of pixels, not 72 MB).
    for frame in range(getattr(img, "n_frames", 1)):
        img.seek(frame)
        if isinstance(img, JpegImagePlugin.JpegImageFile):
            img.decoderconfig = ()  # an MPO's later pictures: Pillow keeps the first one's scale, for its size
            img.draft(None, (1, 1))
        img.load()
