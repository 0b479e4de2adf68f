"""Settings: the one place that reads the environment (and `.env`, when present).

Every knob is an environment variable, listed in `.env.example` and explained in docs/configuration.md; the
comments here say why. With no environment at all the project runs as the embedded default: DEBUG on, SQLite in
the project folder, files under `media/`.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ  # type: ignore[import-untyped]  # django-environ ships no types and has no stub package
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from corsheaders.defaults import default_headers as corsheaders_default_headers
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

# Real environment variables win over `.env`, so CI can set its own. The tests never read a developer's `.env` (its
# USE_S3=True would turn the suite against a store it does not run): pytest's process skips it, and the processes it
# starts get DOTENV_FILE="", which means no file (for `env` below, "" means the default). python-dotenv reads it:
# Env.read_env would keep an inline "# comment" in the value and skip "KEY = value" lines.
DOTENV_FILE = os.environ.get("DOTENV_FILE", str(BASE_DIR / ".env"))
if DOTENV_FILE and "pytest" not in sys.modules:
    load_dotenv(DOTENV_FILE, override=False)


class Env(environ.Env):
    """django-environ's Env, where an empty variable means its default and a bad value stops start-up naming it."""

    BOOLEANS = {"1", "true", "yes", "on", "0", "false", "no", "off"}

    def get_value(
        self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False
    ) -> Any:
        # The value as set: django-environ's own lookup would take one starting with "$" (a password, say) for the
        # name of another variable.
        value = self.ENVIRON.get(var, "").strip()
        if not value:
            if default is self.NOTSET:
                raise ImproperlyConfigured(f"Set the {var} environment variable.")
            return default
        if cast is bool and value.lower() not in self.BOOLEANS:  # django-environ takes any other word for False
            raise ImproperlyConfigured(f"{var} must be true or false, not {value!r}.")
        if cast is list or isinstance(cast, list):  # " a, ,b " is ["a", "b"]
            value = ",".join(item.strip() for item in value.split(","))
        try:
            return self.parse_value(value, cast)
        except ValueError as error:
            raise ImproperlyConfigured(f"{var} is not valid: {error}.") from None


env = Env()


# --- Core -------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", True)

SECRET_KEY = env.str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG=False it is required: set it in the environment or in .env "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    # Development only: DEBUG is on, so this key never signs anything that leaves the machine.
    SECRET_KEY = "django-insecure-development-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured("ALLOWED_HOSTS is not set. With DEBUG=False it is required.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS and browser security: on by default whenever DEBUG is off ------------------------------

# Behind a TLS-terminating proxy, name the header it sets, e.g. HTTP_X_FORWARDED_PROTO (value "https").
SECURE_PROXY_SSL_HEADER = env("SECURE_PROXY_SSL_HEADER", cast=lambda header: (header, "https"), default=None)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Cross-origin API calls from browsers: the listed origins and, while DEBUG is on, a front end on any port of this
# machine (the account mails link to http://localhost:3000 by default).
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_LOCALHOST = env.bool("CORS_ALLOW_LOCALHOST", DEBUG)
CORS_ALLOWED_ORIGIN_REGEXES = [r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$"] if CORS_ALLOW_LOCALHOST else []
CORS_URLS_REGEX = r"^/api/.*$"
# Paging, an Idempotency-Key's replay, rate limits, and the ETag of a direct upload's PUT to the local store.
CORS_EXPOSE_HEADERS = [
    "Link",
    "X-Total-Count",
    "Retry-After",
    "Idempotent-Replayed",
    "RateLimit",
    "RateLimit-Policy",
    "X-Request-ID",
    "ETag",
]
CORS_ALLOW_HEADERS = (*corsheaders_default_headers, "idempotency-key")
# Load balancers probe health, and Prometheus scrapes each node, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/health/$", r"^metrics$"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "storages",
    "axes",
    "idempotency",
    "users",
    "images",
    "webhooks",
]

MIDDLEWARE = [
    # First: every answer (a 413 or a redirect too) carries its request id, and every log line of it; each is counted.
    "config.logs.RequestIdMiddleware",
    "config.metrics.MetricsMiddleware",
    # First: with SERVER_TIMING on, it times everything below it.
    "config.timing.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RequestBodyLimitMiddleware",
    "config.middleware.RateLimitHeadersMiddleware",
    "config.store_budget.StoreBudgetMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out admin login into the lockout page (users.lockout).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: DATABASE_URL, else PostgreSQL from DB_* when DB_NAME is set, else SQLite -----------

CONN_MAX_AGE = env.int("CONN_MAX_AGE", 60)
# A persistent connection is checked before reuse: after a database restart, a reconnection, not an error.
CONN_HEALTH_CHECKS = True
if env.str("DATABASE_URL", ""):
    # Parsed as env.db() does, but through env(), so that a URL it cannot parse stops start-up naming DATABASE_URL.
    DATABASES = {
        "default": env("DATABASE_URL", cast=Env.db_url_config)
        | {"CONN_MAX_AGE": CONN_MAX_AGE, "CONN_HEALTH_CHECKS": CONN_HEALTH_CHECKS}
    }
    # django-environ takes an unknown scheme for the engine's name: stop here, not at the first query.
    if DATABASES["default"].get("ENGINE") not in Env.DB_SCHEMES.values():
        raise ImproperlyConfigured("DATABASE_URL must start with a database's scheme, e.g. postgres:// or sqlite:///.")
elif env.str("DB_NAME", ""):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env.str("DB_NAME", ""),
            "USER": env.str("DB_USER", "postgres"),
            "PASSWORD": env.str("DB_PASSWORD", ""),
            "HOST": env.str("DB_HOST", "localhost"),
            "PORT": env.str("DB_PORT", "5432"),
            "CONN_MAX_AGE": CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": CONN_HEALTH_CHECKS,
            # A database that does not answer is an error (a JSON 503) in seconds, not a hung worker.
            "OPTIONS": {"connect_timeout": env.int("DB_CONNECT_TIMEOUT", 5)},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Users and passwords ------------------------------------------------------------------------

AUTH_USER_MODEL = "users.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "users.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 4096}},
]

# The lockout backend first: it refuses a locked-out admin login before any password is hashed.
AUTHENTICATION_BACKENDS = ["users.lockout.AdminLockoutBackend", "django.contrib.auth.backends.ModelBackend"]

# How long a password reset link works (Django's setting, in seconds); it also stops working once used.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_MINUTES", 60) * 60


def rate(value: str) -> tuple[int, int]:
    """Parse "5/hour" into (5, 3600): events per period in seconds, periods as DRF's (s, m, h, d)."""
    try:
        events, period = value.split("/")
        return int(events), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0].lower()]
    except (ValueError, KeyError, IndexError):
        raise ValueError(f"{value!r} is not a rate like 5/hour (periods s, m, h, d)") from None


# Reset mails one address may receive, whoever asks from wherever: a mail bomb through the reset form is a few mails.
PASSWORD_RESET_MAIL_RATES = sorted(
    env.list("PASSWORD_RESET_MAIL_RATES", cast=rate, default=[(1, 60), (5, 3600)]), key=lambda limit: limit[1]
)
EMAIL_VERIFY_TIMEOUT = env.int("EMAIL_VERIFY_TIMEOUT_HOURS", 72) * 3600

# Links in account mails point at the client app, which shows the form and calls the API.
PASSWORD_RESET_URL = env.str("PASSWORD_RESET_URL", "http://localhost:3000/reset-password?uid={uid}&token={token}")
if "{uid}" not in PASSWORD_RESET_URL or "{token}" not in PASSWORD_RESET_URL:
    raise ImproperlyConfigured(f"PASSWORD_RESET_URL must contain {{uid}} and {{token}}: {PASSWORD_RESET_URL!r}.")
EMAIL_VERIFY_URL = env.str("EMAIL_VERIFY_URL", "http://localhost:3000/verify-email?token={token}")
if "{token}" not in EMAIL_VERIFY_URL:
    raise ImproperlyConfigured(f"EMAIL_VERIFY_URL must contain {{token}}: {EMAIL_VERIFY_URL!r}.")
REQUIRE_VERIFIED_EMAIL = env.bool("REQUIRE_VERIFIED_EMAIL", False)

# --- Admin login lockout (django-axes; the API login has its own throttle) ------------------------

# Failures count per (email typed, client IP) and per IP, never per email alone: anyone could then lock its owner
# out by typing it wrong six times, while the owner, from any other address, still gets in.
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", 6)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "users.lockout.AdminLoginHandler"
AXES_ONLY_ADMIN_SITE = True
AXES_USERNAME_FORM_FIELD = "username"  # the admin form's field (it holds the email)
AXES_USERNAME_CALLABLE = "users.lockout.lockout_username"
AXES_CLIENT_IP_CALLABLE = "users.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "users.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no "AXES: BEGIN" banner on every manage.py command; lockouts are still logged

# --- Mail: printed to the console while DEBUG is on, sent by SMTP otherwise ----------------------

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Image Upload Service <noreply@localhost>")

# --- Time and language --------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
# Fixed to UTC: the API writes times with a literal "Z", as the spec shows.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and media storage -------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", str(BASE_DIR / "media")))

USE_S3 = env.bool("USE_S3", False)
# A signed local file URL stays the same for a while (it is valid half of this at least), so browsers reuse their copy.
MEDIA_URL_EXPIRE = env.int("MEDIA_URL_EXPIRE", 3600)
# Behind nginx: Django checks the signature and nginx sends the file (X-Accel-Redirect); empty: Django sends it.
MEDIA_X_ACCEL_REDIRECT = env.str("MEDIA_X_ACCEL_REDIRECT", "")

# Django 5.1+ reads only STORAGES: the old DEFAULT_FILE_STORAGE would silently keep files on local disk. Local files
# are served only through signed URLs that expire, as S3's presigned ones.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "images.storage.SignedFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", "")
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", "")
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", "us-east-1")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", None)

# Options of django-storages' S3Storage, kept apart from STORAGES so `migrate_media_to_s3` can reach
# the bucket before USE_S3 is switched on.
S3_STORAGE_OPTIONS = {
    "access_key": AWS_ACCESS_KEY_ID,
    "secret_key": AWS_SECRET_ACCESS_KEY,
    "bucket_name": AWS_STORAGE_BUCKET_NAME,
    "region_name": AWS_S3_REGION_NAME,
    "endpoint_url": AWS_S3_ENDPOINT_URL,
    "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", None),
    # Private objects: no ACL at all (works with ACLs disabled, the AWS default), reads go through
    # presigned URLs that expire, and an upload never replaces another object.
    "default_acl": None,
    "querystring_auth": True,
    "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", 3600),
    "file_overwrite": False,
    "object_parameters": {"CacheControl": env.str("AWS_S3_CACHE_CONTROL", "private, max-age=86400")},
    # A file over the multipart threshold (8 MB) is sent part after part in the request's own thread, where the
    # request's budget for the store's calls applies (config.store_budget), not in a pool of threads of its own.
    "transfer_config": TransferConfig(use_threads=False),
    # Given a client_config, S3Storage takes addressing style and signature version from it alone.
    "client_config": BotoConfig(
        s3={"addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", None)},
        signature_version="s3v4",
        # Per attempt: a store that accepts the connection and then says nothing costs seconds, not minutes.
        connect_timeout=env.int("AWS_S3_CONNECT_TIMEOUT", 2),
        read_timeout=env.int("AWS_S3_READ_TIMEOUT", 5),
        retries={"mode": "standard", "total_max_attempts": env.int("AWS_S3_MAX_ATTEMPTS", 3)},
    ),
}
# Bounds an API request's attempts to reach the store (then a JSON 503), whatever the retries; background jobs have
# none: they retry on their own schedule.
AWS_S3_REQUEST_BUDGET = env.int("AWS_S3_REQUEST_BUDGET", 4)
if USE_S3:
    STORAGES["default"] = {"BACKEND": "images.storage.PrivateS3Storage", "OPTIONS": S3_STORAGE_OPTIONS}

# --- Request bodies -----------------------------------------------------------------------------

# Non-file data (JSON bodies, form fields) is held in memory up to this size; larger bodies are refused.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
DATA_UPLOAD_MAX_NUMBER_FILES = 1  # one image per request
# Uploaded files over this size are streamed to a temporary file, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Cache: shared by every worker (throttling counts) through Redis when REDIS_URL is set ----------

REDIS_URL = env.str("REDIS_URL", "")
# The cache is an optimisation, never a dependency: while Redis is unreachable, presigned URLs are signed
# afresh and throttles count in each process's own memory (config.cache, config.throttling).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.metrics.TimedRedisCache",  # Django's, each call timed for /metrics
            "LOCATION": REDIS_URL,
            # Short timeouts: a stopped or hung Redis costs about a second, then is left alone a few seconds.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Images -------------------------------------------------------------------------------------

IMAGE_MAX_UPLOAD_SIZE = env.int("IMAGE_MAX_UPLOAD_SIZE", 10 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", 50_000_000)
IMAGE_DESCRIPTION_MAX_LENGTH = env.int("IMAGE_DESCRIPTION_MAX_LENGTH", 5000)
IMAGE_PAGE_SIZE_MAX = env.int("IMAGE_PAGE_SIZE_MAX", 100)


def variant(value: str) -> tuple[str, tuple[int, int]]:
    """Parse "thumbnail=256x256" into ("thumbnail", (256, 256))."""
    try:
        name, box = value.split("=", 1)
        width, height = box.lower().split("x")
        return name.strip(), (int(width), int(height))
    except ValueError:
        raise ValueError(f"{value!r} is not a variant like thumbnail=256x256") from None


# Named variants, each fitting its box (never upscaled), made in the background after an upload.
IMAGE_VARIANTS = dict(
    env.list("IMAGE_VARIANTS", cast=variant, default=[("thumbnail", (256, 256)), ("medium", (1024, 1024))])
)
IMAGE_VARIANT_FORMAT = env.str("IMAGE_VARIANT_FORMAT", "WEBP").upper()
IMAGE_VARIANT_QUALITY = env.int("IMAGE_VARIANT_QUALITY", 80)
# libwebp's effort: 1 measured 0.7-0.8x the time of Pillow's default 4 for 0.6-4% more bytes, and 0 no faster than
# 1 for 5% more (bench/variants.py --webp-methods).
IMAGE_VARIANT_WEBP_METHOD = env.int("IMAGE_VARIANT_WEBP_METHOD", 1)
if IMAGE_VARIANT_WEBP_METHOD not in range(7):
    raise ImproperlyConfigured(f"IMAGE_VARIANT_WEBP_METHOD must be 0 to 6, not {IMAGE_VARIANT_WEBP_METHOD}.")
IMAGE_STRIP_METADATA = env.bool("IMAGE_STRIP_METADATA", True)
IMAGE_DUPLICATES = env.str("IMAGE_DUPLICATES", "allow").lower()
if IMAGE_DUPLICATES not in ("allow", "reuse", "refuse"):
    raise ImproperlyConfigured(f"IMAGE_DUPLICATES must be allow, reuse or refuse, not {IMAGE_DUPLICATES!r}.")
# Retries when the store or the database fails, waiting 1, 2, 4... times the delay.
IMAGE_TASK_MAX_RETRIES = env.int("IMAGE_TASK_MAX_RETRIES", 3)
IMAGE_TASK_RETRY_DELAY = env.int("IMAGE_TASK_RETRY_DELAY", 5)
# The sweeper (sweep_images, beat): images pending too long are queued again, then marked failed; sooner, those
# whose job the broker lost (it was down, or a Redis that keeps nothing restarted); refused deletions retried.
IMAGE_PENDING_TIMEOUT = env.int("IMAGE_PENDING_TIMEOUT", 900)
IMAGE_SWEEP_MAX_REQUEUES = env.int("IMAGE_SWEEP_MAX_REQUEUES", 3)
IMAGE_SWEEP_INTERVAL = env.int("IMAGE_SWEEP_INTERVAL", 30)
# Direct uploads (the client sends the file straight to the store): short, because an S3 POST cannot be revoked and
# works again after completion until it expires. A client signs just before it sends.
IMAGE_DIRECT_UPLOAD_EXPIRE = env.int("IMAGE_DIRECT_UPLOAD_EXPIRE", 300)
# Tags for a bucket lifecycle rule (AWS), off by default: SeaweedFS refuses them, and a signed PUT would need a header
# that Uppy (and so the admin's bulk upload) does not send. A rule by the uploads/ prefix needs no tag.
IMAGE_DIRECT_UPLOAD_TAGGING = env.bool("IMAGE_DIRECT_UPLOAD_TAGGING", False)
# A worker verifies a completed direct upload (the full decode is most of its CPU) while the API process waits for
# the verdict; past the wait (no worker free) or with the broker down, the API process verifies it itself.
IMAGE_DIRECT_UPLOAD_VERIFY_IN_WORKER = env.bool("IMAGE_DIRECT_UPLOAD_VERIFY_IN_WORKER", True)
IMAGE_DIRECT_UPLOAD_VERIFY_WAIT = env.int("IMAGE_DIRECT_UPLOAD_VERIFY_WAIT", 3)
# Each completion holds one of a process's 8 threads (gunicorn.conf.py): past this many, a 503 at once, so that a
# burst never holds the threads every other request needs.
IMAGE_DIRECT_UPLOAD_CONCURRENCY = env.int("IMAGE_DIRECT_UPLOAD_CONCURRENCY", 2)
# Empty or 0: no quota (a quota set on a user in the admin wins).
IMAGE_USER_QUOTA_BYTES = env.int("IMAGE_USER_QUOTA_BYTES", 0) or None
# What GET /api/auth/me/ and the user admin show as a user's usage: users asks this hook, never images itself
# (dependencies run images -> users -> config).
USER_USAGE_BACKEND = "images.quota.ImageUsage"
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
RETRY_AFTER_SECONDS = env.int("RETRY_AFTER_SECONDS", 5)

# --- Webhooks: signed events to the users' own endpoints (webhooks app) -------------------------------

# Non-public targets (loopback, private, link-local) only where allowed (development); cloud metadata never.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", DEBUG)
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", not DEBUG)
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
WEBHOOK_TIMEOUT = env.int("WEBHOOK_TIMEOUT", 10)
WEBHOOK_RETRY_DELAYS = env.list("WEBHOOK_RETRY_DELAYS", cast=int, default=[5, 300, 1800, 7200, 18000, 36000])
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", 5)
WEBHOOK_MAX_ENDPOINTS = env.int("WEBHOOK_MAX_ENDPOINTS", 10)
# The webhook sweeper queues again deliveries whose job was lost with the broker or a worker.
WEBHOOK_SWEEP_INTERVAL = env.int("WEBHOOK_SWEEP_INTERVAL", 30)
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", 30)
# Makes local file URLs in events absolute (S3's are already); empty: they stay paths.
WEBHOOK_BASE_URL = env.str("WEBHOOK_BASE_URL", "").rstrip("/")
if WEBHOOK_TIMEOUT < 1 or min(WEBHOOK_RETRY_DELAYS, default=0) < 0:
    raise ImproperlyConfigured("WEBHOOK_TIMEOUT must be at least 1 and WEBHOOK_RETRY_DELAYS never negative.")

# --- Background tasks (Celery): a worker when CELERY_BROKER_URL is set, inline (eager) otherwise ----

# Without a broker, variants are made on a background thread of the API process once the answer has been sent
# (config.background), so that an upload answers as fast as with a worker; what a dying process leaves, the sweeper.
IMAGE_VARIANTS_IN_BACKGROUND = env.bool("IMAGE_VARIANTS_IN_BACKGROUND", True)
BACKGROUND_QUEUE_SIZE = env.int("BACKGROUND_QUEUE_SIZE", 100)
# Without a broker, tasks run inline; "memory://" keeps Celery from looking for one on the network.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", "memory://localhost/")
CELERY_TASK_ALWAYS_EAGER = not env.str("CELERY_BROKER_URL", "")
# Inline, a task's failure is recorded on the image (processing "failed"), never raised into the upload.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
# A client waits on a direct upload's verification: it has a queue of its own ("uploads"), so that it never
# waits behind variants. A worker consumes both queues unless told otherwise (-Q uploads: a worker for it alone).
# Webhook deliveries wait on other people's servers (up to WEBHOOK_TIMEOUT each): a queue of their own too, for a
# worker of many threads (docs/webhooks.md).
CELERY_TASK_QUEUES = (Queue("celery"), Queue("uploads"), Queue("webhooks"))
CELERY_TASK_ROUTES = {
    "images.tasks.verify_direct_upload": {"queue": "uploads"},
    "webhooks.tasks.deliver_webhook": {"queue": "webhooks"},
}
# A task is acknowledged when it ends, and one whose worker died is delivered again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # image work is long: don't hoard tasks
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers a task nobody acknowledged after this many seconds (RabbitMQ at once, when the worker's connection
# drops): more than a task's work plus its longest retry wait, or a task still waiting would run twice; but it is also
# how long the job of a worker that died waits.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", 30)
_longest_retry_wait = IMAGE_TASK_RETRY_DELAY * 2 ** max(IMAGE_TASK_MAX_RETRIES - 1, 0)
if CELERY_VISIBILITY_TIMEOUT < _longest_retry_wait + 5:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT} s) must exceed the longest retry wait of a task "
        f"({_longest_retry_wait} s, from IMAGE_TASK_RETRY_DELAY and IMAGE_TASK_MAX_RETRIES) by 5 s at least."
    )
CELERY_BROKER_IS_REDIS = CELERY_BROKER_URL.startswith(("redis://", "rediss://", "redis+socket://"))
if CELERY_BROKER_IS_REDIS:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # Look for such tasks every tenth of that (kombu's default looks every 100 s, whatever the timeout).
        "unacked_restore_interval": max(CELERY_VISIBILITY_TIMEOUT // 10, 1),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
else:
    # RabbitMQ (amqp://): queues are durable and messages persistent (Celery's defaults); a publish returns once
    # the broker has the message, so a job an upload was answered for survives the broker's restart.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# Queuing from a request: when the broker is down, give up within about a second (the image stays
# pending and the sweeper queues it later) instead of holding the client.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BEAT_SCHEDULE = {
    "sweep-images": {"task": "images.tasks.sweep_images", "schedule": float(IMAGE_SWEEP_INTERVAL)},
    "purge-idempotency-keys": {"task": "idempotency.tasks.purge_idempotency_keys", "schedule": 3600.0},
    "sweep-webhooks": {"task": "webhooks.tasks.sweep_webhooks", "schedule": float(WEBHOOK_SWEEP_INTERVAL)},
}

# --- REST API and JWT ---------------------------------------------------------------------------

REST_FRAMEWORK = {
    # SimpleJWT's, naming the expected "Bearer <token>" when a client sends another kind of header
    # (config.authentication), and refusing tokens of sessions that ended (users.authentication).
    "DEFAULT_AUTHENTICATION_CLASSES": ["users.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.ServiceAutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",  # DRF's, with a 400 for JSON nested too deeply (not a RecursionError)
        "config.parsers.MultiPartParser",  # DRF's, timed (SERVER_TIMING)
        "rest_framework.parsers.FormParser",
    ],
    # The spec writes times as "2024-01-15T10:30:00Z".
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Views that name a throttle_scope are limited per client IP (per user when authenticated).
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("THROTTLE_LOGIN_RATE", "10/min"),
        "signup": env.str("THROTTLE_SIGNUP_RATE", "20/hour"),
        "token": env.str("THROTTLE_TOKEN_RATE", "30/min"),
        "upload": env.str("THROTTLE_UPLOAD_RATE", "30/min"),
        "health": env.str("THROTTLE_HEALTH_RATE", "120/min"),
        # Test events and redeliveries, per user: each makes the service send a request.
        "webhooks": env.str("THROTTLE_WEBHOOK_RATE", "60/min"),
    },
    # Proxies in front that append to X-Forwarded-For; 0 trusts only REMOTE_ADDR (a client cannot
    # dodge the limits by forging the header).
    "NUM_PROXIES": env.int("NUM_PROXIES", 0),
    # Storage outages and oversized bodies become JSON errors too (503, 413), never a 500 or HTML.
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
}

# The OpenAPI schema and its docs are public by default, as the API is (clients are generated from them).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", True)

SPECTACULAR_SETTINGS = {
    "TITLE": "Image Upload Service API",
    "DESCRIPTION": (
        "Sign up, get JWT tokens, upload images and list, view, edit and delete your own images. "
        "Register webhook endpoints (/api/webhooks/) to be sent signed events (Standard Webhooks: headers "
        "webhook-id, webhook-timestamp, webhook-signature) when an image is ready, failed or deleted, or a direct "
        "upload completed; each event's `data` is the image as GET /api/images/{id}/ answers it. "
        "Authenticate with `Authorization: Bearer <access token>` from /api/auth/login/."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["config.permissions.ApiDocsAccess"],
    # A staff member's admin session (a browser opening the docs) or access token, when they are not public.
    "SERVE_AUTHENTICATION": [
        "users.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Separate request and response components, so the upload's request is multipart with a binary file.
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
    # Swagger UI and ReDoc from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "HealthStateEnum": ["ok", "unavailable"],
        "HealthStatusEnum": ["ok", "degraded", "unavailable"],
        # Named after what they are (not "EventsEnum", "StateEnum"); import strings, so that config imports no app.
        "WebhookEventTypeEnum": "images.events.IMAGE_EVENTS",
        "WebhookEventTypeWithTestEnum": "webhooks.models.EVENT_TYPES",
        "WebhookDeliveryStateEnum": "webhooks.models.WebhookDelivery.State",
        "DirectUploadMethodEnum": "images.models.DirectUpload.Method",
    },
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_TOKEN_LIFETIME_MINUTES", 24 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_TOKEN_LIFETIME_DAYS", 7)),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
    # Each refresh hands out a new refresh token and blacklists the one used (so a stolen one
    # works at most once); logout blacklists it too.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "TOKEN_OBTAIN_SERIALIZER": "users.serializers.LoginSerializer",
    "TOKEN_REFRESH_SERIALIZER": "users.serializers.TokenRefreshSerializer",
    # Tokens carry a hash of the password: changing it ends every session at once, access tokens too.
    "CHECK_REVOKE_TOKEN": True,
    "REVOKE_TOKEN_CLAIM": "hash_password",
}
# However often it is refreshed, a session ends this long after its login (users.tokens: the "auth_time" claim).
JWT_SESSION_MAX_DAYS = env.int("JWT_SESSION_MAX_DAYS", 30)

# Server-Timing headers (config.timing; bench/upload_breakdown.py reads them): off, as they tell clients our timings.
SERVER_TIMING = env.bool("SERVER_TIMING", False)

# /api/health/ probes the store and the broker at most this often, not per hit.
HEALTH_PROBE_CACHE_SECONDS = env.int("HEALTH_PROBE_CACHE_SECONDS", 5)

# --- Metrics (Prometheus): /metrics on each API node, and on each Celery worker when asked ------------------------

# Empty: /metrics is a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", "")
# Where the processes of one server add up their counts (gunicorn.conf.py makes one for its workers).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR must be an existing folder: {PROMETHEUS_MULTIPROC_DIR!r}.")
# A worker's own metrics on host:port, without a token: keep it off any public network.
WORKER_METRICS_ADDRESS = env.str("WORKER_METRICS_ADDRESS", "")

# --- Logging ------------------------------------------------------------------------------------

# JSON lines for a log collector whenever DEBUG is off; the message alone for a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", "text" if DEBUG else "json").lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
# An access log line per request whenever DEBUG is off (runserver prints its own while it is on).
LOG_REQUESTS = env.bool("LOG_REQUESTS", not DEBUG)
LOG_LEVEL = env.str("LOG_LEVEL", "INFO").upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logs.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601 in UTC, to the microsecond
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's own "django" logger prints to the console too (while DEBUG is on) and passes each line up to
    # the root: every line came out twice. It keeps only the root's handler.
    "loggers": {"django": {"handlers": [], "level": LOG_LEVEL, "propagate": True}},
}
# A Celery worker logs through the handler above when the logs are JSON (its own loggers pass up to the root), and
# in Celery's own text format otherwise.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
