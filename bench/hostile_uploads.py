"""How fast hostile uploads are refused, through the real upload endpoint (SQLite, temp MEDIA_ROOT).

Run by hand: .venv/bin/python bench/hostile_uploads.py
"""

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DB_NAME"] = ""
os.environ["DATABASE_URL"] = ""
os.environ["MEDIA_ROOT"] = tempfile.mkdtemp()

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.validators import ValidationError  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from images.validators import validate_image_file  # noqa: E402
from testutils import png_claiming  # noqa: E402


def refuse(data: bytes, runs: int = 200) -> tuple[float, int, str]:
    tracemalloc.start()
    started = time.perf_counter()
    for _ in range(runs):
        try:
            validate_image_file(SimpleUploadedFile("bomb.png", data))
            message = "accepted"
        except ValidationError as exc:
            message = exc.messages[0]
    elapsed = (time.perf_counter() - started) / runs
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, message


if __name__ == "__main__":
    setup_test_environment()
    for width, height in ((30000, 30000), (10000, 10000), (8000, 8000)):
        data = png_claiming(width, height)
        elapsed, peak, message = refuse(data)
        print(
            f"{width} x {height} PNG ({len(data)} bytes): refused in {elapsed * 1000:.3f} ms, "
            f"peak {peak / 1024:.0f} KiB traced: {message}"
        )
