"""Hostile request bodies, production settings and CORS: what the project as a whole refuses.

Each test checks the status, the body, and that nothing was left behind. Hostile uploads are tested in
images/tests/test_hostile_uploads.py, hostile account and token requests in users/tests/test_hostile.py.
"""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from django.urls import reverse

from config.tests.test_settings import settings_for
from images.models import Image
from testutils import LIST_URL, PROJECT, UPLOAD_URL, free_port, start_gunicorn, terminate, wait_for_http

pytestmark = pytest.mark.django_db


# --- Request bodies ------------------------------------------------------------------------------


def test_a_body_claiming_to_be_huge_is_refused_before_it_is_read(auth_client, stored_files):
    response = auth_client.post(
        UPLOAD_URL, data=b"--x--", content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(10**12)
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "The request body is too large (931.3\xa0GB); the limit is 10.0\xa0MB for the image and "
        "1.0\xa0MB for the other fields."
    }
    assert stored_files() == []


def test_an_oversized_json_body_is_a_json_413(api_client):
    body = '{"email": "' + "a" * (2 * 1024 * 1024) + '", "password": "x"}'

    response = api_client.post(reverse("users:login"), data=body, content_type="application/json")

    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_a_second_file_in_one_request_is_refused(auth_client, make_image, stored_files):
    response = auth_client.post(UPLOAD_URL, {"image": make_image(), "extra": make_image()}, format="multipart")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert not Image.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize("body", ['{"email": "a@b.c", "password": ', "[1, 2", "\xff\xfe", "null"])
def test_malformed_json_is_a_json_400(api_client, body):
    response = api_client.post(reverse("users:login"), data=body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()


# 2 KB of valid JSON whose parsing recursed past Python's limit: a RecursionError, a 500 and a traceback.
DEEPLY_NESTED = ["[" * 1000 + "]" * 1000, '{"a": ' * 1000 + "1" + "}" * 1000]


def test_json_nested_too_deeply_is_a_400_on_every_json_endpoint(
    schema, api_client, auth_client, user, upload, make_image, settings, caplog
):
    image = upload(make_image(), title="Kept")
    direct = auth_client.post("/api/images/uploads/", {"filename": "a.png", "size": 10}, format="json").json()
    settings.WEBHOOK_ALLOW_PRIVATE, settings.WEBHOOK_REQUIRE_HTTPS = True, False
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook = auth_client.post("/api/webhooks/", {"url": "http://127.0.0.1:9/hook", "description": "Kept"}, format="json")
    path_ids = {
        "/api/images/{id}/": image["id"],
        "/api/images/uploads/{id}/complete/": direct["id"],
        "/api/webhooks/{id}/": hook.json()["id"],
    }
    operations = {
        (method, path, op.get("security") is None)  # no security: public, sent without a token
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    }
    # Completion describes no body, but reads one like any JSON view.
    operations.add(("post", "/api/images/uploads/{id}/complete/", False))
    public = {path for _, path, is_public in operations if is_public}
    assert {
        "/api/auth/signup/",
        "/api/auth/login/",
        "/api/auth/token/refresh/",
        "/api/auth/password/reset/",
        "/api/auth/password/reset/confirm/",
        "/api/auth/email/verify/",
    } <= public
    assert len(operations) >= 16

    answers = {}
    for method, path, is_public in sorted(operations):
        client = api_client if is_public else auth_client
        url = path.replace("{id}", str(path_ids.get(path, "")))
        for body in DEEPLY_NESTED:
            response = getattr(client, method)(url, data=body, content_type="application/json")
            answers[(method, path, body[:2])] = (response.status_code, response["Content-Type"], response.json())

    nested = {"detail": "JSON parse error - the document is nested too deeply."}
    assert answers == dict.fromkeys(answers, (400, "application/json", nested))
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
    # Nothing was done: the account, its image and the pending upload are as they were.
    assert auth_client.get("/api/auth/me/").json()["email"] == user.email
    assert auth_client.get(f"/api/images/{image['id']}/").json()["title"] == "Kept"
    assert auth_client.get(f"/api/webhooks/{hook.json()['id']}/").json()["description"] == "Kept"
    assert auth_client.post(f"/api/images/uploads/{direct['id']}/complete/").status_code == 409  # not received


def test_a_malformed_multipart_body_is_a_json_400(auth_client):
    response = auth_client.post(UPLOAD_URL, data=b"garbage", content_type="multipart/form-data; boundary=")

    assert response.status_code == 400
    assert "Multipart form parse error" in response.json()["detail"]


# --- Requests the HTTP server refuses before Django (gunicorn.conf.py) ----------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[str]:
    """The production command (docs/deployment.md), `gunicorn config.wsgi:application`, run from the project's root."""
    folder = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {
        **_clean_env(),
        **production_env(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": f"sqlite:///{folder}/db.sqlite3",
        "DB_NAME": "",
        "USE_S3": "False",
        "MEDIA_ROOT": str(folder / "media"),
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "DOTENV_FILE": "",
    }
    log = folder / "gunicorn.log"
    server = start_gunicorn(port, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/", server, log, timeout=30)
        yield base
    finally:
        terminate(server, timeout=10)


def raw_request(base: str, head: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send a request as written (requests would refuse to send a malformed one); the answer's status line,
    headers and body."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    header_block, body = answer.split(b"\r\n\r\n", 1)
    status, *lines = header_block.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, body


def test_a_long_list_url_reaches_the_api(served):
    # 6,000 characters: past gunicorn's default limit (4,094), within ours. Django answers: no token, 401.
    response = requests.get(f"{served}{LIST_URL}", params={"search": "a" * 6000}, timeout=10)

    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


def test_a_request_line_over_the_limit_is_a_json_400(served):
    response = requests.get(f"{served}{LIST_URL}", params={"search": "a" * 9000}, timeout=10)

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "bad_request"
    assert body["detail"].startswith("Request Line is too large (90")
    assert body["detail"].endswith(" > 8190)")


@pytest.mark.parametrize(
    "head, status, code",
    [
        (b"GET /api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n", "400 Bad Request", "bad_request"),
        (
            b"GET /api/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"\r\n",
            "431 Request Header Fields Too Large",
            "request_header_fields_too_large",
        ),
    ],
    ids=["malformed header", "too many headers"],
)
def test_a_request_the_server_cannot_parse_is_answered_in_json(served, head, status, code):
    status_line, headers, body = raw_request(served, head)

    assert status_line == f"HTTP/1.1 {status}"
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body)["code"] == code


def test_two_slow_bodies_do_not_stall_gunicorn_as_shipped(tmp_path):
    """The attack: two connections each send a request's head, then its body a byte at a time, to gunicorn as
    the deployment docs run it (two workers, gunicorn.conf.py). With sync workers both were held, and health timed out
    for as long as the bytes kept coming; with gthread's threads the rest of the service answers."""
    port, log = free_port(), tmp_path / "gunicorn.log"
    env = {
        **_clean_env(),
        **production_env(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "DB_NAME": "",
        "USE_S3": "False",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "DOTENV_FILE": "",
    }
    server = start_gunicorn(port, env, log, workers=2)
    base = f"http://127.0.0.1:{port}"
    slow: list[socket.socket] = []
    try:
        wait_for_http(f"{base}/api/", server, log)
        for _ in range(2):
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            connection.sendall(
                b"POST /api/auth/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            slow.append(connection)
        answers = []
        for _ in range(3):
            time.sleep(0.3)
            for connection in slow:
                connection.sendall(b" ")  # one more byte of each body: both requests are still being read
            started = time.monotonic()
            response = requests.get(f"{base}/api/health/", timeout=5)
            answers.append((response.status_code, response.json()["database"], time.monotonic() - started))
    finally:
        for connection in slow:
            connection.close()
        terminate(server, timeout=10)

    assert [(status, database) for status, database, _ in answers] == [(200, "ok")] * 3
    assert max(elapsed for _, _, elapsed in answers) < 2, answers


# --- Production settings --------------------------------------------------------------------------


def _clean_env() -> dict:
    keep = {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k in keep}


def production_env() -> dict:
    """The production block of .env.example, with a real secret in place of the placeholder."""
    lines = (PROJECT / ".env.example").read_text().split("# --- Production", 1)[1].splitlines()
    env = {}
    for line in lines:
        line = line.removeprefix("# ").strip()
        if "=" in line and line.split("=", 1)[0].isupper():
            key, value = line.split("=", 1)
            env[key] = value
    env["SECRET_KEY"] = "k" * 20 + "-production-secret-of-sufficient-length-and-variety-0123456789"
    return env


def test_check_deploy_passes_with_the_production_env_of_env_example(tmp_path):
    env = {**_clean_env(), **dict.fromkeys(["DB_NAME", "DATABASE_URL", "USE_S3"], ""), **production_env()}
    assert env["DEBUG"] == "False"

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_start_up_requires_secret_key_and_allowed_hosts():
    for missing in ("SECRET_KEY", "ALLOWED_HOSTS"):
        env = {**_clean_env(), **production_env(), missing: ""}
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=PROJECT, capture_output=True, text=True, env=env
        )
        assert result.returncode != 0
        assert f"{missing} is not set" in result.stderr


# A token setting, but read from the environment like the ones above (users/tests has the token tests).
def test_jwt_signing_key_can_be_set_apart_from_secret_key():
    env = {"JWT_SIGNING_KEY": "a-separate-signing-key", "SECRET_KEY": "s" * 50}
    code = "from django.conf import settings; print(settings.SIMPLE_JWT['SIGNING_KEY'])"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={**_clean_env(), **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )

    assert result.stdout.strip() == "a-separate-signing-key"


def test_cors_allows_only_the_listed_origins(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    allowed = api_client.options(
        LIST_URL, HTTP_ORIGIN="https://app.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    other = api_client.options(
        LIST_URL, HTTP_ORIGIN="https://evil.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )

    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in other


def test_a_front_end_on_localhost_may_call_the_api_in_development(api_client, settings):
    # As `make run` reads its settings: DEBUG on, nothing about CORS set.
    settings.CORS_ALLOWED_ORIGIN_REGEXES = settings_for(DEBUG="True")["CORS_ORIGIN_REGEXES"]

    preflight = api_client.options(
        UPLOAD_URL,
        HTTP_ORIGIN="http://localhost:3000",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, idempotency-key",
    )

    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert {"authorization", "idempotency-key"} <= set(preflight["Access-Control-Allow-Headers"].split(", "))
