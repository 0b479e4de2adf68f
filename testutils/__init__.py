"""Helpers shared by the tests, the fault suite (faults/), the benches (bench/) and the CI scripts (.ci/).

One home for each: real images, accounts through the real endpoints, S3, processes started and stopped on purpose,
waits with a deadline, servers the service calls out to. Fixtures live in conftest.py; whatever else a test, a bench
or a script needs more than once lives here, and config/tests/test_shared_helpers.py keeps it so.

Importing this package reads no Django setting and imports no model (conftest.py imports it before Django is set
up; the benches and the CI scripts import it without Django). A bench or a script run from its own folder puts the
project's root on sys.path first.
"""

import os

from testutils.api import (
    LIST_URL,
    PASSWORD,
    UPLOAD_URL,
    UUID,
    account_over_http,
    bad_login,
    bearer,
    delete_url,
    detail_url,
    fetch,
    login,
    login_over_http,
    signup,
    url_path,
)
from testutils.databases import POSTGRES_SERVER, current_database_url, postgres_database, postgres_drop
from testutils.images import (
    GIF_COMMENT,
    GIF_XMP,
    GPS_LATITUDE,
    MAKER_NOTE,
    XMP_WITH_LOCATION,
    gif_with_location,
    image_bytes,
    noisy_gradient,
    phone_exif,
    phone_photo,
    photo_jpeg,
    png_claiming,
    srgb_profile,
    two_colour_picture,
)
from testutils.processes import (
    BIN,
    PROJECT,
    child_pids,
    cpu_seconds,
    free_port,
    kill,
    kill_group,
    log_tail,
    port_open,
    served_env,
    start_celery_worker,
    start_gunicorn,
    start_redis,
    terminate,
    wait_for_http,
    wait_until,
)
from testutils.s3 import (
    S3_ACCESS_KEY,
    S3_BACKEND,
    S3_BUCKET,
    S3_SECRET_KEY,
    WEED,
    S3Server,
    names_in_store,
    s3_client_config,
    start_weed,
    use_storage,
)
from testutils.servers import Received, Receiver, SlowMailServer

# The machine's shared Redis; TEST_REDIS_URL points the suite at another one (two suites running at once).
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
# Tests publish Celery tasks only to this Redis database (test_worker.py runs a real worker on it).
TEST_BROKER_URL = f"{TEST_REDIS_URL}/14"
# The shared-cache tests use this one.
TEST_CACHE_URL = f"{TEST_REDIS_URL}/15"

__all__ = [
    "BIN",
    "GIF_COMMENT",
    "GIF_XMP",
    "GPS_LATITUDE",
    "LIST_URL",
    "MAKER_NOTE",
    "PASSWORD",
    "POSTGRES_SERVER",
    "PROJECT",
    "S3_ACCESS_KEY",
    "S3_BACKEND",
    "S3_BUCKET",
    "S3_SECRET_KEY",
    "TEST_BROKER_URL",
    "TEST_CACHE_URL",
    "TEST_REDIS_URL",
    "UPLOAD_URL",
    "UUID",
    "WEED",
    "XMP_WITH_LOCATION",
    "Received",
    "Receiver",
    "S3Server",
    "SlowMailServer",
    "account_over_http",
    "bad_login",
    "bearer",
    "child_pids",
    "cpu_seconds",
    "current_database_url",
    "delete_url",
    "detail_url",
    "fetch",
    "free_port",
    "gif_with_location",
    "image_bytes",
    "kill",
    "kill_group",
    "log_tail",
    "login",
    "login_over_http",
    "names_in_store",
    "noisy_gradient",
    "phone_exif",
    "phone_photo",
    "photo_jpeg",
    "png_claiming",
    "port_open",
    "postgres_database",
    "postgres_drop",
    "s3_client_config",
    "signup",
    "srgb_profile",
    "start_celery_worker",
    "served_env",
    "start_gunicorn",
    "start_redis",
    "start_weed",
    "terminate",
    "two_colour_picture",
    "url_path",
    "use_storage",
    "wait_for_http",
    "wait_until",
]
