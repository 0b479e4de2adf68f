"""Logs an operator can follow: JSON lines with a request id, answered in X-Request-ID, carried into the worker."""

import json
import logging
import subprocess
import sys

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from prometheus_client.parser import text_string_to_metric_families

from images.models import Image
from testutils import LIST_URL, PROJECT, UPLOAD_URL, free_port, image_bytes, log_tail, wait_until

WORKER_METRICS_PORT = free_port()


@pytest.fixture
def worker_settings() -> dict[str, str]:
    """The worker (conftest.py) logs JSON lines and serves its own metrics."""
    return {"LOG_FORMAT": "json", "WORKER_METRICS_ADDRESS": f"127.0.0.1:{WORKER_METRICS_PORT}"}


def json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass  # a worker's banner, printed before logging is set up
    return lines


@pytest.mark.django_db(transaction=True)
def test_a_request_id_in_the_apis_log_reappears_in_the_workers_log_for_that_image(
    broker, auth_client, settings, caplog, request
):
    settings.LOG_REQUESTS = True
    photo = SimpleUploadedFile("p.jpg", image_bytes("JPEG", size=(800, 600)), content_type="image/jpeg")

    with caplog.at_level(logging.INFO, logger="config.requests"):
        response = auth_client.post(UPLOAD_URL, {"image": photo}, format="multipart")
    request_id = response["X-Request-ID"]
    [api_line] = [record for record in caplog.records if record.name == "config.requests"]

    assert response.status_code == 201 and response.json()["processing"] == "pending"
    assert (api_line.request_id, api_line.getMessage().split()[:3]) == (request_id, ["POST", UPLOAD_URL, "201"])
    assert (api_line.view, api_line.user_id) == ("images:upload", response.json()["user"]["id"])

    log = request.getfixturevalue("worker")  # started after the upload: the task waited in the broker
    image = Image.objects.get(pk=response.json()["id"])

    def processed() -> bool:
        image.refresh_from_db()
        return image.processing != "pending"

    wait_until(processed, "the worker's variants", timeout=60, log=log)
    assert image.processing == "ready", log_tail(log)

    lines = json_lines(log.read_text())
    [made] = [line for line in lines if line.get("image_id") == image.pk]
    assert made["message"].startswith(f"Variants of image {image.pk} made in")
    assert (made["request_id"], made["level"], made["logger"]) == (request_id, "INFO", "images.tasks")
    # Celery's own lines about the task carry it too; the worker's start-up lines have none.
    assert any(line["request_id"] == request_id and line["logger"].startswith("celery") for line in lines)
    assert {line["request_id"] for line in lines if "ready." in line["message"]} == {None}

    scraped = requests.get(f"http://127.0.0.1:{WORKER_METRICS_PORT}/metrics", timeout=5).text
    builds = {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "imageapi_variant_build_seconds_count"
    }
    assert builds == {"ready": 1.0}


@pytest.mark.django_db
def test_every_answer_carries_a_request_id_and_keeps_a_well_formed_one_sent_to_it(auth_client, api_client):
    made = [auth_client.get(LIST_URL)["X-Request-ID"] for _ in range(2)]
    kept = auth_client.get(LIST_URL, HTTP_X_REQUEST_ID="nginx-4f2a9c")["X-Request-ID"]
    forged = auth_client.get(LIST_URL, HTTP_X_REQUEST_ID='x" level="ERROR')["X-Request-ID"]
    refused = api_client.get(LIST_URL)

    assert made[0] != made[1] and all(len(request_id) == 32 for request_id in made)
    assert kept == "nginx-4f2a9c"
    assert forged != 'x" level="ERROR' and len(forged) == 32
    assert refused.status_code == 401 and len(refused["X-Request-ID"]) == 32


def test_without_debug_logs_are_json_lines_with_the_request_id(tmp_path):
    """As gunicorn serves it in production: DEBUG off, nothing said about logs."""
    code = (
        "import django, logging; django.setup();"
        "from django.test import Client;"
        "Client().get('/api/nothing/', HTTP_X_REQUEST_ID='abc-123', HTTP_HOST='images.example.com', secure=True)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DOTENV_FILE": "",
        "DEBUG": "False",
        "SECRET_KEY": "s" * 50,
        "ALLOWED_HOSTS": "images.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True)

    lines = json_lines(done.stderr)
    assert lines and len(lines) == len(done.stderr.splitlines())  # every line is JSON
    [line] = [line for line in lines if line["logger"] == "config.requests"]
    assert line["message"].startswith("GET /api/nothing/ 404")
    assert (line["request_id"], line["logger"], line["level"], line["status"]) == (
        "abc-123",
        "config.requests",
        "INFO",
        404,
    )
    assert line["time"].endswith("+00:00")
