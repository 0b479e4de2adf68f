"""Shared fixtures: real accounts made through the real endpoints, real images made with Pillow."""
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from rest_framework.test import APIClient

PASSWORD = "Correct-Horse-42"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Tests publish Celery tasks only to this Redis database (test_worker.py runs a real worker on it).
TEST_BROKER_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture(scope="session", autouse=True)
def _test_broker() -> None:
    """Point Celery at the test broker before it makes any connection (it keeps the first one)."""
    from config.celery import app

    app.conf.update(broker_url=TEST_BROKER_URL)


@pytest.fixture(autouse=True)
def _tasks_run_inline() -> Iterator[None]:
    """Celery tasks run eagerly in tests, whatever CELERY_BROKER_URL says (one test starts a real worker)."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttle counts live in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """A temporary MEDIA_ROOT for every test: nothing touches the project's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def stored_files(media_root: Path) -> Callable[[], list[str]]:
    """Return a function listing the files under MEDIA_ROOT, as storage names."""

    def files() -> list[str]:
        return sorted(p.relative_to(media_root).as_posix() for p in media_root.rglob("*") if p.is_file())

    return files


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def signup(client: APIClient, email: str, username: str, password: str = PASSWORD):
    """Sign up through POST /api/auth/signup/ and return the response."""
    body = {"email": email, "username": username, "password": password, "password2": password}
    return client.post(reverse("users:signup"), body, format="json")


def login(client: APIClient, email: str, password: str = PASSWORD) -> dict:
    """Log in through POST /api/auth/login/ and return the token pair."""
    response = client.post(reverse("users:login"), {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _account(email: str, username: str):
    from users.models import User

    response = signup(APIClient(), email, username)
    assert response.status_code == 201, response.content
    return User.objects.get(pk=response.json()["user"]["id"])


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(client, user.email)['access']}")
    return client


@pytest.fixture
def user(db):
    return _account("alice@example.com", "alice")


@pytest.fixture
def other_user(db):
    return _account("bob@example.com", "bob")


@pytest.fixture
def auth_client(user) -> APIClient:
    """A client carrying a real access token from the login endpoint for `user`."""
    return _client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return _client_for(other_user)


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


@pytest.fixture
def make_image() -> Callable[..., SimpleUploadedFile]:
    """Return a factory of uploadable images made with Pillow."""

    def factory(
        name: str = "photo.png",
        fmt: str = "PNG",
        size: tuple[int, int] = (32, 24),
        frames: int = 1,
        content_type: str | None = None,
    ) -> SimpleUploadedFile:
        mime = content_type or f"image/{fmt.lower()}"
        return SimpleUploadedFile(name, image_bytes(fmt, size, frames), content_type=mime)

    return factory


@pytest.fixture
def upload(auth_client, make_image) -> Callable[..., dict]:
    """Upload through the API as `user` and return the 201 body."""

    def do_upload(file: SimpleUploadedFile | None = None, **fields) -> dict:
        body = {"image": file or make_image(), **fields}
        response = auth_client.post(reverse("images:upload"), body, format="multipart")
        assert response.status_code == 201, response.content
        return response.json()

    return do_upload


# --- A real S3 server (SeaweedFS) ---------------------------------------------------------------

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
        s3={"addressing_style": "path"}, signature_version="s3v4", connect_timeout=2, read_timeout=10,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_bucket(server: S3Server, process: subprocess.Popen | None, log: Path | None) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process is not None and process.poll() is not None:
            pytest.fail(f"weed exited with {process.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            server.client().head_bucket(Bucket=server.bucket)
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                tail = log.read_text()[-3000:] if log else ""
                pytest.fail(f"No S3 bucket at {server.endpoint} after 60 s.\n{tail}", pytrace=False)
            time.sleep(0.2)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """A real S3 server for the whole run: SeaweedFS started here, or the one at S3_TEST_ENDPOINT.

    Never skipped: when the server cannot start, the S3 tests fail with its log.
    """
    endpoint = os.environ.get("S3_TEST_ENDPOINT")
    if endpoint:
        server = S3Server(
            endpoint,
            os.environ.get("S3_TEST_ACCESS_KEY", S3_ACCESS_KEY),
            os.environ.get("S3_TEST_SECRET_KEY", S3_SECRET_KEY),
            os.environ.get("S3_TEST_BUCKET", S3_BUCKET),
        )
        _wait_for_bucket(server, None, None)
        yield server
        return

    weed = Path(sys.executable).with_name("weed")
    if not weed.exists():
        pytest.fail(f"{weed} is missing: install requirements-dev.txt (make test does).", pytrace=False)
    workdir = tmp_path_factory.mktemp("seaweedfs")
    log = workdir / "weed.log"
    port = _free_port()
    server = S3Server(f"http://127.0.0.1:{port}", S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET)
    # weed mini moves its other components to free ports by itself; the S3 port is chosen here.
    command = [
        str(weed), "mini", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={port}",
        "-master.telemetry=false", "-admin.ui=false", f"-bucket={S3_BUCKET}",
    ]
    # The keys in its environment are the server's credentials.
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY}
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        _wait_for_bucket(server, process, log)
        print(f"\nSeaweedFS S3 ready in {time.monotonic() - started:.1f} s (pid {process.pid})")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_storage(s3_server: S3Server, settings) -> S3Server:
    """Make the default storage private S3 on the test server, with an empty bucket."""
    client = s3_server.client()
    for key in s3_server.keys():
        client.delete_object(Bucket=s3_server.bucket, Key=key)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": S3_BACKEND, "OPTIONS": s3_server.storage_options()},
    }
    return s3_server


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory) -> None:
    """Keep a SQLite test database in a file (not in memory), so a worker process can open it too."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")
