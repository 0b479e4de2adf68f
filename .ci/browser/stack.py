"""A real browser against the service: the servers it needs, then `node --test` drives Debian's chromium.

Started here, each of its own, and stopped at the end: SeaweedFS (`weed mini`, with the README's bucket CORS
rule for Uppy, examples/uppy/bucket-cors.json); two production-like API servers (gunicorn with gunicorn.conf.py,
DEBUG off, SQLite in a temp folder, tasks inline), one on local storage and one on SeaweedFS, serving the admin's
static files (static_wsgi.py), each with a staff member and a user. The page of another origin (CORS for real)
is served by the test itself, on a port chosen here. Screenshots go to BROWSER_SCREENSHOTS
(.ci/browser/screenshots/ by default).

Usage: .venv/bin/python .ci/browser/stack.py (bash .ci/browser/run installs what it needs first).
bench/admin_bulk_upload.py starts the same pieces in a production shape (PostgreSQL, Celery) for its timings.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the project's root: testutils
from testutils import (  # noqa: E402
    PROJECT,
    S3Server,
    free_port,
    log_tail,
    start_gunicorn,
    start_weed,
    terminate,
    wait_for_http,
)

S3_KEY, S3_SECRET, S3_BUCKET = "browser-key", "browser-secret", "browser-images"
PASSWORD = "Browser-Password-42"


def photo(path: Path, target_bytes: int, colour: tuple[int, int, int]) -> Path:
    """A photo-like JPEG (a coloured gradient with noise), 4:3, of about `target_bytes` (within a few percent)."""

    def encoded(width: int) -> bytes:
        height = width * 3 // 4
        gradient = Image.linear_gradient("L").resize((width, height))
        noise = Image.effect_noise((width, height), 60)
        tint = Image.new("RGB", (width, height), colour)
        buffer = io.BytesIO()
        Image.blend(Image.merge("RGB", (gradient, noise, gradient)), tint, 0.45).save(buffer, "JPEG", quality=85)
        return buffer.getvalue()

    trial = 400
    per_pixel = len(encoded(trial)) / (trial * (trial * 3 // 4))
    # Larger pictures of this kind take a little fewer bytes a pixel: aim 2.5 % over.
    path.write_bytes(encoded(max(int((target_bytes * 1.025 / per_pixel * 4 / 3) ** 0.5), 16)))
    return path


def photos(folder: Path, prefix: str, count: int, target_bytes: int) -> list[Path]:
    colours = [(200, 60, 40), (40, 160, 70), (50, 90, 200), (220, 180, 30), (150, 50, 160), (30, 170, 170)]
    return [
        photo(folder / f"{prefix}-{number:02d}.jpg", target_bytes, colours[number % len(colours)])
        for number in range(1, count + 1)
    ]


def store_at(endpoint: str) -> S3Server:
    """The SeaweedFS that start_weed serves at this endpoint: the browser tests' bucket and keys."""
    return S3Server(endpoint, S3_KEY, S3_SECRET, S3_BUCKET)


def start_store(folder: Path, endpoint: str) -> subprocess.Popen:
    """SeaweedFS with every component on loopback, its S3 gateway at `endpoint` (the test fixture's flags)."""
    return start_weed(folder, store_at(endpoint), folder / "weed.log")


def bucket_ready(endpoint: str, origins: list[str], process: subprocess.Popen, timeout: float = 60) -> None:
    """Wait for the bucket, then give it the README's CORS rule for Uppy, allowing these origins."""
    store = store_at(endpoint)
    store.wait_for_bucket(process, timeout=timeout)
    rule = json.loads((PROJECT / "examples" / "uppy" / "bucket-cors.json").read_text())
    for entry in rule["CORSRules"]:
        entry["AllowedOrigins"] = origins
    store.client().put_bucket_cors(Bucket=S3_BUCKET, CORSConfiguration=rule)


@dataclass
class Api:
    """One API server: its name, address, environment and processes."""

    name: str
    port: int
    env: dict[str, str]
    folder: Path
    store: str = ""  # where direct uploads go: the API itself (local storage) or the S3 endpoint
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        """The end of each of its logs (gunicorn's, manage.py's...), for a failure's message."""
        return "".join(f"== {path.name} ==\n{log_tail(path, 4000)}\n" for path in self.folder.glob("*.log"))


def api_env(folder: Path, *, cors: list[str], database: str = "", s3_endpoint: str = "", **extra: str) -> dict:
    """A production-like environment (DEBUG off), as .ci/serve-api gives it, with this storage and CORS."""
    env = {
        **os.environ,
        "DEBUG": "False",
        "SECRET_KEY": f"browser-only-{time.time_ns()}-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "SECURE_COOKIES": "False",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": database or f"sqlite:///{folder / 'db.sqlite3'}",
        "DB_NAME": "",
        "MEDIA_ROOT": str(folder / "media"),
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "DOTENV_FILE": "",
        "LOG_LEVEL": "WARNING",
        "CORS_ALLOWED_ORIGINS": ",".join(cors),
        "THROTTLE_LOGIN_RATE": "100000/min",
        "THROTTLE_UPLOAD_RATE": "100000/min",
        "USE_S3": "False",
    }
    if s3_endpoint:
        env |= {
            "USE_S3": "True",
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_STORAGE_BUCKET_NAME": S3_BUCKET,
            "AWS_S3_ENDPOINT_URL": s3_endpoint,
            "AWS_S3_ADDRESSING_STYLE": "path",
        }
    return env | extra


ACCOUNTS = (
    "from users.models import User; "
    f"User.objects.create_superuser(email='staff@example.com', username='staff', password='{PASSWORD}'); "
    f"User.objects.create_user(email='user@example.com', username='user', password='{PASSWORD}')"
)


def prepare(api: Api) -> subprocess.Popen:
    """Migrate a fresh database and make the two accounts, in the background."""
    api.folder.mkdir(parents=True, exist_ok=True)
    command = f'{sys.executable} manage.py migrate --noinput -v 0 && {sys.executable} manage.py shell -c "{ACCOUNTS}"'
    log = (api.folder / "manage.log").open("ab")
    return subprocess.Popen(command, shell=True, cwd=PROJECT, env=api.env, stdout=log, stderr=subprocess.STDOUT)


def start_api(api: Api, *extra_args: str) -> None:
    """gunicorn from the project's root (gunicorn.conf.py: gthread, 8 threads), with the static files served."""
    log = api.folder / "gunicorn.log"
    options = ("--pythonpath", str(HERE), *extra_args)
    api.processes.append(start_gunicorn(api.port, api.env, log, *options, app="static_wsgi:application"))


def wait_for_api(api: Api, timeout: float = 60) -> None:
    """Wait until the API answers; fail with its logs if it exits or stays silent."""
    try:
        wait_for_http(f"{api.base}/api/health/", api.processes[-1], None, timeout)
    except RuntimeError:
        raise RuntimeError(f"{api.name} API does not answer:\n{api.log_tail()}") from None


def run_tests(config: dict, *node_args: str) -> int:
    """Run the browser tests (node's test runner) with this configuration; return node's exit status."""
    env = {**os.environ, "BROWSER_CONFIG": json.dumps(config)}
    command = ["node", "--test", "--test-reporter=spec", "--test-concurrency=1", *node_args]
    return subprocess.run([*command, str(HERE / "browser.test.mjs")], cwd=PROJECT, env=env).returncode


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="browser-tests-"))
    screenshots = Path(os.environ.get("BROWSER_SCREENSHOTS") or HERE / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    page_port, s3_port = free_port(), free_port()
    page, s3 = f"http://127.0.0.1:{page_port}", f"http://127.0.0.1:{s3_port}"
    local = Api("local", free_port(), {}, work / "local")
    remote = Api("s3", free_port(), {}, work / "s3", store=s3)
    local.store = local.base
    # The page's origin calls both APIs; each admin is its own API's origin, which calls the bucket too.
    local.env = api_env(local.folder, cors=[page])
    remote.env = api_env(remote.folder, cors=[page], s3_endpoint=s3)
    processes: list[subprocess.Popen] = []
    status = 1
    try:
        weed = start_store(work / "weed", s3)
        processes.append(weed)
        preparing = prepare(local)  # the other server gets a copy of this database (SQLite files)
        folder = work / "files"
        folder.mkdir()
        example = photos(folder, "example", 3, 120_000)
        bulk = photos(folder, "bulk", 9, 150_000)
        broken = folder / "broken.jpg"
        broken.write_bytes(b"This is no JPEG, whatever its name says.\n" * 400)
        if preparing.wait() != 0:
            raise RuntimeError("migrate or the accounts failed:\n" + local.log_tail())
        remote.folder.mkdir(parents=True)
        shutil.copyfile(local.folder / "db.sqlite3", remote.folder / "db.sqlite3")
        for api in (local, remote):
            start_api(api)
            processes.extend(api.processes)
        bucket_ready(s3, [page, remote.base], weed)
        for api in (local, remote):
            wait_for_api(api)
        print(f"Servers ready in {time.monotonic() - started:.1f} s: page {page}, APIs {local.base} and {remote.base}")
        config = {
            "page": page,
            "example": str(PROJECT / "examples" / "uppy" / "uppy-upload.js"),
            "uppy": str(HERE / "node_modules" / "uppy" / "dist"),
            "photos": [str(path) for path in example],
            "bulk": [*(str(path) for path in bulk[:5]), str(broken), *(str(path) for path in bulk[5:])],
            "screenshots": str(screenshots),
            "stacks": [
                {"name": api.name, "api": api.base, "store": api.store, "password": PASSWORD} for api in (local, remote)
            ],
        }
        status = run_tests(config)
        if status != 0:
            print(local.log_tail() + remote.log_tail())
    finally:
        terminate(processes, timeout=15)
        shutil.rmtree(work, ignore_errors=True)
    print(f"Browser tests: {time.monotonic() - started:.1f} s in all; screenshots in {screenshots}")
    return status


if __name__ == "__main__":
    sys.exit(main())
