"""Shared fixtures: real accounts made through the real endpoints, real images made with Pillow.

Fixtures only (and the private functions they need); helpers that tests import live in testutils/.
"""

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from testutils import (
    S3_ACCESS_KEY,
    S3_BUCKET,
    S3_SECRET_KEY,
    TEST_BROKER_URL,
    UPLOAD_URL,
    WEED,
    S3Server,
    bearer,
    current_database_url,
    free_port,
    image_bytes,
    kill,
    log_tail,
    login,
    signup,
    start_celery_worker,
    start_redis,
    start_weed,
    terminate,
    use_storage,
    wait_until,
)

# The processes the tests start (a settings reader, gunicorn, manage.py) never read a developer's .env
# either; this process skips it already (config/settings.py).
os.environ["DOTENV_FILE"] = ""


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
def _background_calls_done() -> Iterator[None]:
    """A test's calls on the process's background thread (variants after a live server's answer) are made before the
    next test: late, they would touch the next test's rows (the ids of rolled-back rows come again)."""
    from config.background import _background

    yield
    wait_until(_background.idle, "the background thread's calls", timeout=60)


@pytest.fixture(autouse=True)
def _cache_reachable() -> None:
    """Every test starts with the shared cache taken as reachable (config.cache remembers an outage)."""
    from config import cache as service_cache

    service_cache._down_until = 0.0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Redis of the test's own, to stop on purpose: (its URL, its process). Killed at the end."""
    port = free_port()
    process = start_redis(port, tmp_path)
    yield f"redis://127.0.0.1:{port}/0", process
    if process.poll() is None:
        kill(process)


def _use_broker(url: str) -> None:
    from config.celery import app

    app.conf["broker_url"] = url
    # Celery keeps a pool of connections to the broker it first used: start afresh (as after a fork). Private
    # attributes, which the stubs do not declare.
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@pytest.fixture
def dead_broker() -> Iterator[str]:
    """Tasks go to a broker that refuses connections (a real closed port), not inline."""
    from config.celery import app

    url = f"redis://127.0.0.1:{free_port()}/0"
    _use_broker(url)
    app.conf.task_always_eager = False
    yield url
    _use_broker(TEST_BROKER_URL)


@pytest.fixture
def database_url(transactional_db) -> str:
    """The test database as a URL for a process the test starts (gunicorn, a worker); what the test writes is
    committed, so that process sees it."""
    return current_database_url()


@pytest.fixture
def broker() -> Iterator[str]:
    """Publish tasks to the real Redis test broker (an emptied database of its own), not inline."""
    from config.celery import app

    server = redis.Redis.from_url(TEST_BROKER_URL)
    server.flushdb()
    app.conf.task_always_eager = False
    yield TEST_BROKER_URL
    app.conf.task_always_eager = True
    server.flushdb()


@pytest.fixture
def worker_settings() -> dict[str, str]:
    """Environment for the worker's settings beyond the test's defaults (parametrize it to change them)."""
    return {}


@pytest.fixture
def worker(broker: str, media_root: Path, worker_settings: dict[str, str]) -> Iterator[Path]:
    """Start `celery worker` against the broker, the test database and the test MEDIA_ROOT; yield its log once ready."""
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "DATABASE_URL": current_database_url(),
        "MEDIA_ROOT": str(media_root),
        "USE_S3": "False",
        **worker_settings,
    }
    log = media_root.parent / "worker.log"
    process = start_celery_worker(env, log, "--loglevel=INFO")

    def ready_or_gone() -> bool:
        return b" ready." in log.read_bytes() or process.poll() is not None

    try:
        wait_until(ready_or_gone, "celery worker", timeout=60, log=log)
        assert b" ready." in log.read_bytes(), log_tail(log)
        yield log
    finally:
        terminate(process, timeout=30)


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


def _account(email: str, username: str):
    from users.models import User

    response = signup(APIClient(), email, username)
    assert response.status_code == 201, response.content
    return User.objects.get(pk=response.json()["user"]["id"])


def _client_for(user) -> APIClient:
    return bearer(login(APIClient(), user.email)["access"])


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
        response = auth_client.post(UPLOAD_URL, body, format="multipart")
        assert response.status_code == 201, response.content
        return response.json()

    return do_upload


@pytest.fixture
def refused(auth_client, stored_files) -> Callable[..., list[str]]:
    """Post an upload as `user` that must fail; return the errors, after checking that nothing was kept.

    The answer must be a JSON 400 whose only key is `under`; the rows and the stored files must be as
    they were before the request.
    """
    from images.models import Image

    def post(file: SimpleUploadedFile, under: str = "image", **fields) -> list[str]:
        rows_before, files_before = Image.objects.count(), stored_files()
        response = auth_client.post(UPLOAD_URL, {"image": file, **fields}, format="multipart")
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/json"
        assert Image.objects.count() == rows_before
        assert stored_files() == files_before
        body = response.json()
        assert list(body) == [under]
        return body[under]

    return post


@pytest.fixture
def low_rates(settings) -> None:
    """Throttle every scope at two requests a minute."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "2/min", "signup": "2/min", "token": "2/min", "upload": "2/min"},
    }


@pytest.fixture
def admin_client(client, db):
    """Django's test client logged in as a superuser (replaces pytest-django's fixture of that name)."""
    from users.models import User

    admin = User.objects.create_superuser(email="root@example.com", username="root", password="pw-Secret-1")
    client.force_login(admin)
    return client


@pytest.fixture(scope="module")
def schema() -> dict:
    """The OpenAPI description the service serves, parsed."""
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


# --- A real S3 server (SeaweedFS) ---------------------------------------------------------------


def _wait_for_bucket(server: S3Server, process: subprocess.Popen | None, log: Path | None) -> None:
    try:
        server.wait_for_bucket(process, log, timeout=60)
    except AssertionError as failure:
        pytest.fail(str(failure), pytrace=False)


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

    if not WEED.exists():
        pytest.fail(f"{WEED} is missing: install requirements-dev.txt (make test does).", pytrace=False)
    workdir = tmp_path_factory.mktemp("seaweedfs")
    log = workdir / "weed.log"
    # weed mini moves its other components to free ports by itself; the S3 port is chosen here.
    server = S3Server(f"http://127.0.0.1:{free_port()}", S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET)
    process = start_weed(workdir, server, log)
    server = dataclasses.replace(server, pid=process.pid)
    try:
        started = time.monotonic()
        _wait_for_bucket(server, process, log)
        print(f"\nSeaweedFS S3 ready in {time.monotonic() - started:.1f} s (pid {process.pid})")
        yield server
    finally:
        terminate(process, timeout=15)


@pytest.fixture
def s3_storage(s3_server: S3Server, settings) -> S3Server:
    """Make the default storage private S3 on the test server, with an empty bucket."""
    client = s3_server.client()
    for key in s3_server.keys():
        client.delete_object(Bucket=s3_server.bucket, Key=key)
    use_storage(settings, **s3_server.storage_options())
    return s3_server


@pytest.fixture(params=["local", "s3"])
def store(request) -> str:
    """Run the test on local storage and on the S3 server."""
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


@pytest.fixture
def hung_store(s3_storage: S3Server) -> Iterator[S3Server]:
    """The S3 server stopped with SIGSTOP: it accepts connections (the kernel does) and answers nothing."""
    if s3_storage.pid is None:
        pytest.skip("S3_TEST_ENDPOINT: the tests did not start the S3 server, so they cannot stop it")
    os.kill(s3_storage.pid, signal.SIGSTOP)
    try:
        yield s3_storage
    finally:
        os.kill(s3_storage.pid, signal.SIGCONT)


@pytest.fixture
def private_broker(private_redis: tuple[str, subprocess.Popen]) -> Iterator[tuple[str, subprocess.Popen]]:
    """Publish tasks to a Redis of the test's own (to kill on purpose), not inline: (its URL, its process)."""
    from config.celery import app

    url, process = private_redis
    _use_broker(url)
    app.conf.task_always_eager = False
    yield url, process
    _use_broker(TEST_BROKER_URL)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory) -> None:
    """Keep a SQLite test database in a file (not in memory), so a worker process can open it too."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")
