"""A dependency that is down is a JSON 503 with Retry-After, never a 500; the cache is never a dependency.

Each outage is real: a database address that refuses connections, a Redis process killed, a broker port
nobody listens on, PostgreSQL ending the server's connection.
"""

import logging
import os

import pytest
import requests
from django.db import connection
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from config.views import server_error
from testutils import LIST_URL, PASSWORD, free_port, kill, signup, start_gunicorn, terminate, wait_for_http

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(transactional_db):
    """Point the connection at a database that cannot be opened: a closed port, or a folder that is not there."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-folder/db.sqlite3"
    else:
        connection.settings_dict["PORT"] = str(free_port())
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def test_the_database_down_is_a_json_503_with_retry_after(auth_client, database_down):
    response = auth_client.get(LIST_URL)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"detail": "The database is unavailable. Try again later."}


def test_the_database_down_outside_drf_is_a_503_too(database_down):
    # The admin is a Django view, not DRF's: the 500 handler answers for it (plain text outside /api/).
    client = Client(raise_request_exception=False)

    admin = client.get("/admin/", HTTP_COOKIE="sessionid=" + "a" * 32)

    assert admin.status_code == 503
    assert admin["Retry-After"] == "5"
    assert admin.content == b"The database is unavailable. Try again later."


def test_health_names_the_database_when_it_is_down(api_client, database_down):
    response = api_client.get("/api/health/")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "storage": "ok",
        "cache": "ok",
        "broker": "ok",
    }


def test_any_other_error_under_the_api_is_a_json_500():
    # Django calls handler500 while handling the exception, as here.
    try:
        raise ZeroDivisionError("a bug")
    except ZeroDivisionError:
        response = server_error(RequestFactory().get("/api/images/"))
        page = server_error(RequestFactory().get("/admin/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


# --- Redis (cache) down -------------------------------------------------------------------------------


@pytest.fixture
def redis_cache(settings, private_redis):
    """The shared cache on a private Redis: (its process)."""
    url, process = private_redis
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    return process


def test_while_redis_is_down_urls_are_signed_afresh_and_the_outage_logged_once(
    auth_client, upload, s3_storage, redis_cache, caplog
):
    ids = {upload()["id"], upload()["id"]}
    assert auth_client.get(LIST_URL).status_code == 200  # URLs signed and cached in Redis
    kill(redis_cache)

    with caplog.at_level(logging.WARNING, logger="config.cache"):
        answers = [auth_client.get(LIST_URL) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    for answer in answers:
        images = answer.json()
        assert {image["id"] for image in images} == ids
        for image in images:
            assert "X-Amz-Signature=" in image["image"]
            assert requests.get(image["image"], timeout=5).status_code == 200  # a URL that works
    outage_lines = [r for r in caplog.records if "cache is unavailable" in r.getMessage()]
    assert len(outage_lines) == 1


def test_while_redis_is_down_throttles_still_count_in_each_process(api_client, user, low_rates, redis_cache):
    kill(redis_cache)
    body = {"email": user.email, "password": "wrong"}

    statuses = [api_client.post("/api/auth/login/", body, format="json").status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


def test_health_says_degraded_while_the_cache_or_the_broker_is_down(api_client, redis_cache, dead_broker):
    kill(redis_cache)

    response = api_client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "storage": "ok",
        "cache": "unavailable",
        "broker": "unavailable",
    }


# --- A database connection ended by the server --------------------------------------------------------


def test_a_kept_connection_ended_by_the_server_is_replaced_without_an_error(transactional_db, tmp_path):
    """gunicorn with persistent connections (CONN_MAX_AGE); PostgreSQL ends them between two requests."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to end a connection (CI runs the suite on both)")
    # The test's accounts use a hasher the server does not have: a refused login queries the database too.
    assert signup(APIClient(), "keep@example.com", "keep").status_code == 201
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "False",
        "SECRET_KEY": "test-only-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": "",
        "DB_NAME": db["NAME"],
        "DB_USER": db["USER"],
        "DB_PASSWORD": db["PASSWORD"] or "",
        "DB_HOST": db["HOST"],
        "DB_PORT": str(db["PORT"]),
        "CONN_MAX_AGE": "60",
        "MEDIA_ROOT": str(tmp_path),
        "USE_S3": "False",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }
    log = tmp_path / "gunicorn.log"
    server = start_gunicorn(port, env, log)
    url = f"http://127.0.0.1:{port}/api/auth/login/"
    try:
        wait_for_http(url, server, log, timeout=30)
        first = requests.post(url, json={"email": "keep@example.com", "password": PASSWORD}, timeout=30)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            ended = cursor.fetchone()[0]

        second = requests.post(url, json={"email": "keep@example.com", "password": PASSWORD}, timeout=30)
    finally:
        terminate(server, timeout=10)

    refused = {"detail": "No active account found with the given credentials"}
    assert (first.status_code, first.json()) == (401, refused)
    assert ended >= 1  # the server's kept connection was there, and was ended
    # Without CONN_HEALTH_CHECKS this is a 503 (before them, a 500): the dead connection was reused.
    assert (second.status_code, second.json()) == (401, refused)
