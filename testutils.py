"""Shared test helpers that are not fixtures: constants, real images, accounts through the real endpoints, S3.

Test modules import from here, never from conftest.py (which holds only fixtures). conftest imports this
module before Django is set up, so nothing here imports a model at import time.
"""

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import redis
import requests
from botocore.config import Config as BotoConfig
from django.urls import reverse
from PIL import ExifTags
from PIL import Image as PILImage
from rest_framework.test import APIClient

PROJECT = Path(__file__).resolve().parent
PASSWORD = "Correct-Horse-42"
# A UUID4 as image_upload_to writes it into a stored name.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The machine's shared Redis; TEST_REDIS_URL points the suite at another one (two suites running at once).
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
# Tests publish Celery tasks only to this Redis database (test_worker.py runs a real worker on it).
TEST_BROKER_URL = f"{TEST_REDIS_URL}/14"
# The shared-cache tests use this one.
TEST_CACHE_URL = f"{TEST_REDIS_URL}/15"

# --- The image endpoints, at the spec's paths ---------------------------------------------------------

UPLOAD_URL = "/api/images/upload/"
LIST_URL = "/api/images/"


def url_path(url: str) -> str:
    """The path of a file URL, without its query (the signature of a local URL, or S3's)."""
    return urlsplit(url).path


def detail_url(pk: int) -> str:
    return f"/api/images/{pk}/"


def delete_url(pk: int) -> str:
    return f"/api/images/{pk}/delete/"


# --- Real images and real accounts ----------------------------------------------------------------------


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (32, 24), frames: int = 1, color: str = "red") -> bytes:
    """Encode a real image with Pillow."""
    buffer = io.BytesIO()
    first = PILImage.new("RGB", size, color)
    if frames > 1:
        rest = [PILImage.new("RGB", size, (i * 40 % 256, 0, 0)) for i in range(1, frames)]
        first.save(buffer, fmt, save_all=True, append_images=rest)
    else:
        first.save(buffer, fmt)
    return buffer.getvalue()


def signup(client: APIClient, email: str, username: str, password: str = PASSWORD):
    """Sign up through POST /api/auth/signup/ and return the response."""
    body = {"email": email, "username": username, "password": password, "password2": password}
    return client.post(reverse("users:signup"), body, format="json")


def login(client: APIClient, email: str, password: str = PASSWORD) -> dict:
    """Log in through POST /api/auth/login/ and return the token pair."""
    response = client.post(reverse("users:login"), {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    """Return a new client that sends `access` as its Bearer token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- Photos as phones take them (issue 13) ---------------------------------------------------------------

# Where the photos below were "taken": 48°51'24" N, 2°21'3" E.
GPS_LATITUDE = (48.0, 51.0, 24.0)
XMP_WITH_LOCATION = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4N"/></rdf:RDF></x:xmpmeta>'
)
MAKER_NOTE = b"SERIAL-0042-maker-note"


def phone_exif(orientation: int = 6) -> PILImage.Exif:
    """EXIF as a phone writes it: orientation, make and model, a maker note, a body serial number, GPS."""
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    private = exif.get_ifd(ExifTags.IFD.Exif)
    private[ExifTags.Base.MakerNote] = MAKER_NOTE
    private[ExifTags.Base.BodySerialNumber] = "SN-123456"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    return exif


def two_colour_picture(size: tuple[int, int]) -> PILImage.Image:
    """Left half red, right half blue (shows which way a picture was turned), with some noise."""
    img = PILImage.new("RGB", size, "red")
    img.paste(PILImage.new("RGB", (size[0] // 2, size[1]), "blue"), (size[0] // 2, 0))
    return PILImage.blend(img, PILImage.effect_noise(size, 30).convert("RGB"), 0.1)


def phone_photo(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), orientation: int = 6) -> bytes:
    """A photo with GPS, a maker note, XMP, an ICC profile and an orientation, in JPEG, WEBP, HEIF or AVIF.

    PNG gets the same EXIF (eXIf) and its text chunks: a comment and the XMP (iTXt).
    """
    from PIL import ImageCms, PngImagePlugin

    options: dict = {
        "exif": phone_exif(orientation),
        "icc_profile": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    }
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


# --- A real S3 server (SeaweedFS; the s3_server fixture starts it) ----------------------------------------

S3_ACCESS_KEY = "test-access-key"
S3_SECRET_KEY = "test-secret-key"
S3_BUCKET = "test-images"
S3_BACKEND = "images.storage.PrivateS3Storage"


@dataclass(frozen=True)
class S3Server:
    """Where the test S3 server answers, and with which credentials."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    pid: int | None = None  # the server's process when the tests started it (to stop it on purpose)

    def client(self, secret_key: str | None = None):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name="us-east-1",
            config=s3_client_config(),
        )

    def storage_options(self, **overrides) -> dict:
        """S3Storage options as settings.py builds them, pointed at this server."""
        from django.conf import settings

        return {
            **settings.S3_STORAGE_OPTIONS,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "bucket_name": self.bucket,
            "endpoint_url": self.endpoint,
            "client_config": s3_client_config(),
            **overrides,
        }

    def keys(self) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=self.bucket)
        return sorted(obj["Key"] for obj in listing.get("Contents", []))


def s3_client_config() -> BotoConfig:
    # One attempt and short timeouts: a failure test fails in milliseconds instead of retrying.
    return BotoConfig(
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        connect_timeout=2,
        read_timeout=10,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


def use_storage(settings, **options) -> None:
    """Make the default storage private S3 with these options (pytest-django's `settings` undoes it)."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": S3_BACKEND, "OPTIONS": options}}


# --- Real processes to stop on purpose -----------------------------------------------------------------


def wait_until(check: Callable[[], object], what: str, timeout: float = 30) -> None:
    """Poll `check` until it returns a true value (an exception counts as not yet); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 (anything but success means: not yet)
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(port: int, env: dict[str, str], log: Path, workers: int = 1) -> subprocess.Popen:
    """Start the production command (docs/deployment.md) (one worker, unless told) from the project's root, so
    gunicorn.conf.py applies; its output goes to log. The caller waits for it to answer (wait_for_http)."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                os.path.join(os.path.dirname(sys.executable), "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
            ],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_for_http(base: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait until a server started by a test answers HTTP at `base` (any status); fail with its log if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(f"{base}/api/", timeout=5)
            return
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{base} does not answer:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.1)


def start_redis(port: int, folder: Path) -> subprocess.Popen:
    """Start a private Redis on this port (never stop the machine's shared one), answering when returned."""
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {port} did not start") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    """Kill a process (SIGKILL: as a crash would) and wait for it."""
    process.kill()
    process.wait(timeout=10)
