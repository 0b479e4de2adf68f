"""Settings from the environment, read in a fresh interpreter as `manage.py` would read them."""

import json
import os
import re
import subprocess
import sys

import pytest

from testutils import PROJECT

# Every key the settings read, blanked so neither the caller's environment nor a developer's .env
# (python-dotenv never overrides a variable that is set, even to "") changes what a test sees.
KEYS = [
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "DB_HOST",
    "DB_PORT",
    "USE_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_REGION_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_CUSTOM_DOMAIN",
    "AWS_QUERYSTRING_EXPIRE",
    "AWS_S3_ADDRESSING_STYLE",
    "IMAGE_MAX_UPLOAD_SIZE",
    "JWT_SIGNING_KEY",
    "MEDIA_ROOT",
    "CORS_ALLOWED_ORIGINS",
    "CORS_ALLOW_LOCALHOST",
]
SHOW = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG, "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "ENGINE": db["ENGINE"], "NAME": str(db["NAME"]), "USER": db.get("USER"), "PASSWORD": db.get("PASSWORD"),
    "HOST": db.get("HOST"), "CONN_MAX_AGE": db.get("CONN_MAX_AGE"), "OPTIONS": db.get("OPTIONS"),
    "PORT": str(db.get("PORT")), "STORAGE": settings.STORAGES["default"]["BACKEND"],
    "STORAGE_OPTIONS": {k: v for k, v in settings.STORAGES["default"].get("OPTIONS", {}).items()
                        if k not in ("client_config", "transfer_config")},
    "IMAGE_MAX_UPLOAD_SIZE": settings.IMAGE_MAX_UPLOAD_SIZE,
    "ACCESS": settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds(),
    "REFRESH": settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds(),
    "CORS_ORIGIN_REGEXES": settings.CORS_ALLOWED_ORIGIN_REGEXES,
    "PASSWORD_RESET_MAIL_RATES": settings.PASSWORD_RESET_MAIL_RATES, "IMAGE_VARIANTS": settings.IMAGE_VARIANTS,
}))
"""


def read_settings(**env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, **dict.fromkeys(KEYS, ""), **env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run([sys.executable, "-c", SHOW], cwd=PROJECT, env=environ, capture_output=True, text=True)


def settings_for(**env: str) -> dict:
    result = read_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_embedded_default_is_debug_sqlite_and_local_media():
    got = settings_for()

    assert got["DEBUG"] is True
    assert got["ENGINE"] == "django.db.backends.sqlite3"
    assert got["NAME"] == str(PROJECT / "db.sqlite3")
    assert got["STORAGE"] == "images.storage.SignedFileSystemStorage"  # local files, signed URLs
    assert got["IMAGE_MAX_UPLOAD_SIZE"] == 10 * 1024 * 1024
    assert (got["ACCESS"], got["REFRESH"]) == (24 * 3600, 7 * 24 * 3600)


def test_db_variables_select_postgresql():
    got = settings_for(DB_NAME="images", DB_USER="svc", DB_PASSWORD="pw", DB_HOST="db.internal", DB_PORT="6543")

    assert (got["ENGINE"], got["NAME"], got["USER"], got["HOST"], got["PORT"]) == (
        "django.db.backends.postgresql",
        "images",
        "svc",
        "db.internal",
        "6543",
    )


def test_database_url_wins_over_db_variables():
    got = settings_for(DATABASE_URL="postgres://u:p%40w@h:5433/fromurl?sslmode=require", DB_NAME="ignored")

    assert (got["ENGINE"], got["NAME"], got["USER"], got["PASSWORD"], got["HOST"], got["PORT"]) == (
        "django.db.backends.postgresql",
        "fromurl",
        "u",
        "p@w",
        "h",
        "5433",
    )
    assert (got["OPTIONS"], got["CONN_MAX_AGE"]) == ({"sslmode": "require"}, 60)


def test_values_are_taken_as_written_less_surrounding_spaces_and_an_empty_one_is_the_default():
    got = settings_for(
        DB_NAME=" images ",
        DB_PASSWORD="$not-a-variable-name",
        ALLOWED_HOSTS=" a.example.com , b.example.com,, ",
        IMAGE_MAX_UPLOAD_SIZE=" ",
        PASSWORD_RESET_MAIL_RATES=" 5/Hour , 1/min ",
        IMAGE_VARIANTS="small = 64X32",
    )

    assert (got["NAME"], got["PASSWORD"]) == ("images", "$not-a-variable-name")
    assert got["ALLOWED_HOSTS"] == ["a.example.com", "b.example.com"]
    assert got["IMAGE_MAX_UPLOAD_SIZE"] == 10 * 1024 * 1024
    assert got["PASSWORD_RESET_MAIL_RATES"] == [[1, 60], [5, 3600]]  # shortest window first
    assert got["IMAGE_VARIANTS"] == {"small": [64, 32]}


def test_use_s3_switches_the_default_storage_to_private_s3():
    got = settings_for(
        USE_S3="True",
        AWS_ACCESS_KEY_ID="AK",
        AWS_SECRET_ACCESS_KEY="SK",
        AWS_STORAGE_BUCKET_NAME="bucket",
        AWS_S3_REGION_NAME="eu-west-1",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:4566",
    )

    assert got["STORAGE"] == "images.storage.PrivateS3Storage"
    options = got["STORAGE_OPTIONS"]
    assert options["bucket_name"] == "bucket"
    assert options["region_name"] == "eu-west-1"
    assert options["endpoint_url"] == "http://127.0.0.1:4566"
    assert (options["default_acl"], options["file_overwrite"], options["querystring_auth"]) == (None, False, True)


def test_without_debug_a_missing_secret_key_stops_start_up_with_a_clear_error():
    result = read_settings(DEBUG="False", ALLOWED_HOSTS="example.com")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set. With DEBUG=False it is required" in result.stderr


def test_without_debug_allowed_hosts_is_required():
    result = read_settings(DEBUG="False", SECRET_KEY="x" * 50)

    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("USE_S3", "y"),  # django-environ alone would read any word but true, on, ok, y, yes or 1 as False
        ("IMAGE_MAX_UPLOAD_SIZE", "ten"),
        ("PASSWORD_RESET_MAIL_RATES", "1/fortnight"),
        ("IMAGE_VARIANTS", "thumbnail=256"),
        ("WEBHOOK_RETRY_DELAYS", "5,x"),
        ("WEBHOOK_RETRY_DELAYS", "5,-1"),
        ("IMAGE_DUPLICATES", "sometimes"),
        ("EMAIL_VERIFY_URL", "https://app.example.com/verify"),
        ("DATABASE_URL", "bogus://h/db"),
        ("DATABASE_URL", "postgres://u:p@h:port/db"),
    ],
)
def test_malformed_values_are_named_in_the_error(name, value):
    result = read_settings(**{name: value})

    assert result.returncode != 0
    [last_line] = result.stderr.strip().splitlines()[-1:]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert name in last_line


def settings_read() -> set[str]:
    """Every environment variable config/settings.py reads (through `env`, django-environ's Env, or os.environ)."""
    source = (PROJECT / "config/settings.py").read_text()
    through_env = re.findall(r'\benv(?:\.[a-z_]+)?\(\s*"([A-Z0-9_]+)"', source)
    return set(through_env) | set(re.findall(r'os\.environ(?:\.get\(|\[)"([A-Z0-9_]+)"', source))


# Read from the environment only, never from .env (it says which file .env is).
ENVIRONMENT_ONLY = {"DOTENV_FILE"}


def test_env_example_documents_exactly_the_keys_the_settings_read():
    example = (PROJECT / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z0-9_]+)=", example, flags=re.MULTILINE))

    assert settings_read() - ENVIRONMENT_ONLY - documented == set()  # nothing read and undocumented
    assert documented - settings_read() == set()  # nothing documented that no setting reads


def test_the_configuration_reference_documents_exactly_the_variables_the_settings_read():
    """docs/configuration.md: each table row names its variables in its first cell; the section after "Read by other
    tools" is not about the settings."""
    reference = (PROJECT / "docs/configuration.md").read_text().split("## Read by other tools", 1)[0]
    first_cells = re.findall(r"^\| (.*?) \|", reference, flags=re.MULTILINE)
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}

    assert settings_read() - documented == set()
    assert documented - settings_read() == set()


def test_the_tests_never_read_a_developers_env_file(tmp_path):
    """A developer's .env (here USE_S3=True, as the S3 docs write) must not reach the tests."""
    env_file = tmp_path / ".env"
    env_file.write_text("USE_S3=True\nAWS_STORAGE_BUCKET_NAME=from-dotenv\n")
    show = "from django.conf import settings; print(settings.STORAGES['default']['BACKEND'])"
    environ = {
        **os.environ,
        **dict.fromkeys(KEYS, ""),
        "DOTENV_FILE": str(env_file),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    del environ["USE_S3"], environ["AWS_STORAGE_BUCKET_NAME"]

    def backend(prelude: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", prelude + show], cwd=PROJECT, env=environ, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert backend("") == "images.storage.PrivateS3Storage"  # outside the tests the file is read
    assert backend("import pytest; ") != "images.storage.PrivateS3Storage"  # under pytest it is not
    assert os.environ["DOTENV_FILE"] == ""  # and the processes the tests start skip it too


def test_the_env_file_is_read_as_python_dotenv_reads_it(tmp_path):
    """Inline comments, spaces around "=" and quotes as a .env file may hold them (Env.read_env would differ)."""
    env_file = tmp_path / ".env"
    env_file.write_text('IMAGE_MAX_UPLOAD_SIZE=1234  # bytes\nALLOWED_HOSTS = a.example.com\nDB_NAME="images # one"\n')
    environ = {
        **os.environ,
        **dict.fromkeys(KEYS, ""),
        "DOTENV_FILE": str(env_file),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    del environ["IMAGE_MAX_UPLOAD_SIZE"], environ["ALLOWED_HOSTS"], environ["DB_NAME"]

    done = subprocess.run([sys.executable, "-c", SHOW], cwd=PROJECT, env=environ, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert (got["IMAGE_MAX_UPLOAD_SIZE"], got["ALLOWED_HOSTS"], got["NAME"]) == (
        1234,
        ["a.example.com"],
        "images # one",
    )


def test_a_missing_postgresql_database_is_one_line_naming_the_createdb_command():
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode != 0:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 (CI starts one)")
    environ = {
        **os.environ,
        **dict.fromkeys(KEYS, ""),
        "DB_NAME": "no_such_database_here",
        "DB_HOST": "127.0.0.1",
        "DB_USER": "postgres",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }

    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=PROJECT, env=environ, capture_output=True, text=True
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Cannot use the postgresql database no_such_database_here: connection failed: connection to server at "
        '"127.0.0.1", port 5432 failed: FATAL:  database "no_such_database_here" does not exist. Create it with: '
        "createdb -h 127.0.0.1 -p 5432 -U postgres no_such_database_here (or unset DB_NAME and DATABASE_URL to "
        "use SQLite)."
    ]


def test_localhost_origins_may_call_the_api_while_debug_is_on_and_never_in_production():
    debug = settings_for(DEBUG="True")["CORS_ORIGIN_REGEXES"]
    production = settings_for(DEBUG="False", SECRET_KEY="s" * 50, ALLOWED_HOSTS="images.example.com")

    assert production["CORS_ORIGIN_REGEXES"] == []
    assert settings_for(DEBUG="True", CORS_ALLOW_LOCALHOST="False")["CORS_ORIGIN_REGEXES"] == []
    [pattern] = debug
    for origin in ("http://localhost:3000", "http://127.0.0.1:5173", "https://localhost", "http://[::1]:8080"):
        assert re.match(pattern, origin), origin
    for origin in ("http://localhost.evil.example:3000", "http://evil.example/localhost", "http://10.0.0.1:3000"):
        assert not re.match(pattern, origin), origin


def test_copying_env_example_keeps_the_development_secret_key():
    """`cp .env.example .env` must not change the key that signed the tokens and file URLs handed out before."""
    example = (PROJECT / ".env.example").read_text().split("# --- Production", 1)[0]

    assert not re.search(r"^SECRET_KEY=", example, flags=re.MULTILINE)
    assert not re.search(r"^JWT_SIGNING_KEY=.", example, flags=re.MULTILINE)
