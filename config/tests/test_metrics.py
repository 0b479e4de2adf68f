"""/metrics for Prometheus: a scrape with the token sees requests, queries, cache calls and the service's state move."""

import os
import time
from datetime import timedelta

import pytest
import requests
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from images.models import Image
from testutils import (
    TEST_CACHE_URL,
    UPLOAD_URL,
    free_port,
    image_bytes,
    kill,
    log_tail,
    start_gunicorn,
    wait_for_http,
)
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-the-tests"


@pytest.fixture
def scrape(settings):
    """Return a function scraping /metrics as Prometheus would, into {(name, labels): value}."""
    settings.METRICS_TOKEN = TOKEN
    client = APIClient()

    def scrape() -> dict[tuple[str, frozenset], float]:
        cache.delete("metrics:service")  # the service's state afresh, not the sample shared for a few seconds
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(response.content.decode())

    return scrape


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(value for (n, got), value in samples.items() if n == name and set(labels.items()) <= got)


def test_metrics_need_the_token_and_are_off_without_one(api_client, settings):
    settings.METRICS_TOKEN = ""
    assert api_client.get("/metrics").status_code == 404

    settings.METRICS_TOKEN = TOKEN
    missing = api_client.get("/metrics")
    wrong = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer guessed")

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json() == {"detail": "Metrics need Authorization: Bearer <METRICS_TOKEN>."}
    assert b"imageapi_" not in missing.content + wrong.content


def test_an_upload_moves_the_counters(scrape, auth_client, user, django_capture_on_commit_callbacks):
    before = scrape()
    photo = SimpleUploadedFile("p.jpg", image_bytes("JPEG", size=(640, 480)), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):  # as the upload's transaction commits: its variants
        response = auth_client.post(UPLOAD_URL, {"image": photo}, format="multipart")
    after = scrape()

    assert response.status_code == 201  # no broker: the variants were made in the request
    upload = {"view": "images:upload", "method": "POST"}
    assert total(after, "imageapi_http_requests_total", **upload, status="201") == (
        total(before, "imageapi_http_requests_total", **upload, status="201") + 1
    )
    assert total(after, "imageapi_http_request_duration_seconds_count", **upload) == (
        total(before, "imageapi_http_request_duration_seconds_count", **upload) + 1
    )
    assert total(after, "imageapi_http_request_duration_seconds_sum", **upload) > total(
        before, "imageapi_http_request_duration_seconds_sum", **upload
    )
    # The upload's queries (the token's user, the insert, the variants' update...), by statement.
    for statement in ("select", "insert", "update"):
        assert total(after, "imageapi_db_query_duration_seconds_count", statement=statement) > total(
            before, "imageapi_db_query_duration_seconds_count", statement=statement
        )
    assert total(after, "imageapi_variant_build_seconds_count", outcome="ready") == (
        total(before, "imageapi_variant_build_seconds_count", outcome="ready") + 1
    )
    assert total(after, "imageapi_images", processing="ready") == 1
    assert total(after, "imageapi_images", processing="pending") == 0
    assert total(after, "imageapi_service_metrics_up") == 1


def test_the_services_state_pending_images_open_uploads_failing_webhooks(scrape, user, auth_client):
    waiting = Image.objects.create(user=user, image=SimpleUploadedFile("w.png", image_bytes()))
    Image.objects.filter(pk=waiting.pk).update(uploaded_at=timezone.now() - timedelta(minutes=5))
    Image.objects.create(user=user, image=SimpleUploadedFile("f.png", image_bytes()), processing="failed")
    signed = auth_client.post("/api/images/uploads/", {"filename": "a.jpg", "size": 1000}, format="json")
    endpoint = WebhookEndpoint.objects.create(
        user=user, url="https://example.com/hook", events=["image.ready"], failing_since=timezone.now()
    )
    event = WebhookEvent.objects.create(user=user, type="image.ready", body="{}")
    WebhookDelivery.objects.create(event=event, endpoint=endpoint, state="pending", attempts=2)
    WebhookDelivery.objects.create(event=event, endpoint=endpoint, state="failed", attempts=7)
    WebhookDelivery.objects.create(event=event, endpoint=endpoint, state="pending", attempts=0)

    samples = scrape()

    assert signed.status_code == 201
    assert {state: total(samples, "imageapi_images", processing=state) for state in ("pending", "ready", "failed")} == {
        "pending": 1,
        "ready": 0,
        "failed": 1,
    }
    assert 300 <= total(samples, "imageapi_images_pending_oldest_age_seconds") < 330
    assert total(samples, "imageapi_direct_uploads_open") == 1
    assert total(samples, "imageapi_webhook_deliveries_failing", state="retrying") == 1
    assert total(samples, "imageapi_webhook_deliveries_failing", state="failed") == 1
    assert total(samples, "imageapi_webhook_endpoints_failing") == 1


def test_queue_depth_counts_the_tasks_waiting_in_the_broker(scrape, broker, upload, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload()  # its variants are queued for a worker, and none runs
        upload()

    samples = scrape()

    assert total(samples, "imageapi_task_queue_messages", queue="celery") == 2
    assert total(samples, "imageapi_task_queue_messages", queue="uploads") == 0


def test_cache_calls_are_timed(scrape, settings, auth_client):
    settings.CACHES = {"default": {"BACKEND": "config.metrics.TimedRedisCache", "LOCATION": TEST_CACHE_URL}}
    before = scrape()
    auth_client.post("/api/auth/login/", {"email": "x@example.com", "password": "x"}, format="json")  # throttled
    after = scrape()

    for operation in ("get", "set"):
        assert total(after, "imageapi_cache_operation_duration_seconds_count", operation=operation, outcome="ok") > (
            total(before, "imageapi_cache_operation_duration_seconds_count", operation=operation, outcome="ok")
        )
    cache.clear()


def test_a_scrape_of_any_gunicorn_worker_sees_every_workers_requests(database_url, tmp_path):
    """gunicorn as shipped (gunicorn.conf.py), two workers replaced after every 3 requests: whichever process answers
    a scrape, it counts the requests of all of them, those of the processes gone since included."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "METRICS_TOKEN": TOKEN,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "GUNICORN_CMD_ARGS": "--max-requests 3",
    }
    server = start_gunicorn(port, env, tmp_path / "gunicorn.log", workers=2)
    base = f"http://127.0.0.1:{port}"

    def get(path: str, **headers: str) -> requests.Response:
        for _ in range(20):  # a worker restarting drops the connections it accepted and had not read yet
            try:
                return requests.get(f"{base}{path}", headers=headers, timeout=10)
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError(f"{path}: no answer")

    try:
        wait_for_http(f"{base}/api/", server, tmp_path / "gunicorn.log")
        answered = sum(get("/api/health/").status_code == 200 for _ in range(9))
        seen = [
            total(
                parse(get("/metrics", Authorization=f"Bearer {TOKEN}").text),
                "imageapi_http_requests_total",
                view="health",
            )
            for _ in range(4)
        ]
    finally:
        kill(server)

    assert answered == 9
    assert seen == [9, 9, 9, 9], log_tail(tmp_path / "gunicorn.log", 2000)
