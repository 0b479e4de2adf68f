"""Time of stripping a phone photo's metadata (images/scrub.py) against decoding the same photo.

Run by hand: .venv/bin/python bench/scrub.py [--repeats N]

Input, made in memory: a 12 MP JPEG (4000x3000, gradient plus noise, quality 90) as a phone writes it:
EXIF with orientation 6, make, model, maker note, serial number and GPS, XMP, an ICC profile and a comment.
The upload path already decodes every upload once (validators.validate_image_file, the integrity check);
the scrub comes on top of it, so it must cost well under that decode.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's root: images, testutils, and bench beside this one

from bench.variants import photo_like  # noqa: E402
from images.scrub import strip_metadata  # noqa: E402
from testutils import XMP_WITH_LOCATION, phone_exif, srgb_profile  # noqa: E402


def phone_jpeg() -> bytes:
    buffer = io.BytesIO()
    photo_like(4000, 3000).save(
        buffer,
        "JPEG",
        quality=90,
        exif=phone_exif(6),
        xmp=XMP_WITH_LOCATION,
        icc_profile=srgb_profile(),
        comment=b"taken at home",
    )
    return buffer.getvalue()


def timed(job, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    data = phone_jpeg()
    stripped = strip_metadata(data, "JPEG")
    print(f"Pillow {Image.__version__}; {os.cpu_count()} CPUs; {args.repeats} repeats")
    print(
        f"input: 4000x3000 JPEG, {len(data):,} bytes; stripped: {len(stripped):,} bytes "
        f"({len(data) - len(stripped):,} bytes of metadata removed)"
    )

    def decode() -> None:
        with Image.open(io.BytesIO(data)) as img:
            img.load()

    def header() -> None:
        with Image.open(io.BytesIO(data)) as img:
            img.getexif()

    rows = [
        ("strip_metadata (scrub)", lambda: strip_metadata(data, "JPEG")),
        ("header + EXIF only", header),
        ("full decode (validator)", decode),
    ]
    results = {name: timed(job, args.repeats) for name, job in rows}
    decode_median = results["full decode (validator)"][0]
    print(f"\n{'step':<26} {'median ms':>10} {'min ms':>8} {'of decode':>10}")
    for name, (median, low) in results.items():
        print(f"{name:<26} {median * 1000:>10.2f} {low * 1000:>8.2f} {median / decode_median:>9.1%}")


if __name__ == "__main__":
    main()
