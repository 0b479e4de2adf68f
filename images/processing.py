"""Pillow work: the variants of an accepted image, small, upright and free of metadata."""

import io
import warnings

from django.core.files import File
from PIL import Image, ImageOps


def render_variants(
    file: File, boxes: dict[str, tuple[int, int]], fmt: str = "WEBP", quality: int = 80, webp_method: int = 4
) -> dict[str, bytes]:
    """Encode one variant per named box, each fitting its box and never larger than the original.

    One decode serves every variant: a JPEG is decoded straight at the smallest DCT scale (1/2, 1/4 or
    1/8) that still covers the largest box, so a 24 MP photo never becomes 24 MP of pixels in memory.
    EXIF orientation is applied; an animation gives its first frame; nothing of the original's metadata
    (EXIF, GPS, ICC, XMP) is written, since Pillow only writes what it is handed explicitly.
    `webp_method` is libwebp's effort, 0 (fastest) to 6 (Pillow's default is 4; see IMAGE_VARIANT_WEBP_METHOD).
    """
    if not boxes:  # IMAGE_VARIANTS empty: no variants, nothing to decode
        return {}
    options = {"quality": quality, **({"method": webp_method} if fmt == "WEBP" else {})}
    file.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(file) as img:
            largest = max(max(box) for box in boxes.values())
            # A square of the largest side covers the box whichever way EXIF turns the image.
            img.draft("RGB", (largest, largest))
            frame = ImageOps.exif_transpose(img)  # loads frame 0 (the first of an animation)
    frame = frame.convert("RGBA" if _has_alpha(frame) else "RGB")

    variants = {}
    # Largest first, each from the one before: the smaller ones resample far fewer pixels.
    for name, box in sorted(boxes.items(), key=lambda item: max(item[1]), reverse=True):
        frame = frame.copy()
        frame.thumbnail(box, Image.Resampling.LANCZOS)  # shrinks only, keeping the aspect ratio
        buffer = io.BytesIO()
        frame.save(buffer, fmt, **options)
        variants[name] = buffer.getvalue()
    return variants


def variant_size(data: bytes) -> list[int]:
    """[width, height] of an encoded variant, from its header."""
    with Image.open(io.BytesIO(data)) as img:
        return list(img.size)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
