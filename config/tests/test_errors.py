"""JSON errors under /api/ for what escapes DRF (a 500, a bad Host), and a cheap, throttled health check."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from testutils import use_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_urls(settings) -> None:
    settings.ROOT_URLCONF = "config.tests.urls_failing"


def test_an_unhandled_error_under_api_is_a_json_500(failing_urls):
    response = Client(raise_request_exception=False).get("/api/failing/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "A server error occurred."}


def test_an_unhandled_error_elsewhere_keeps_djangos_page(failing_urls):
    response = Client(raise_request_exception=False).get("/failing/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/images/", "/api/auth/login/", "/api/health/", "/api/nowhere/"])
def test_a_host_not_allowed_is_a_json_400_under_api(path):
    response = Client().get(path, HTTP_HOST="evil.example.com")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Bad request.", "code": "bad_request"}


def test_a_host_not_allowed_elsewhere_keeps_djangos_page():
    response = Client().get("/admin/", HTTP_HOST="evil.example.com")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


# --- /api/health/ -------------------------------------------------------------------------------


def test_health_is_throttled_per_client(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "health": "2/min"},
    }

    statuses = [APIClient().get("/api/health/").status_code for _ in range(3)]
    elsewhere = APIClient(REMOTE_ADDR="10.0.0.7").get("/api/health/")

    assert statuses == [200, 200, 429]
    assert elsewhere.status_code == 200


def test_health_checks_the_store_at_most_once_per_cache_period(s3_storage, settings):
    assert settings.HEALTH_PROBE_CACHE_SECONDS == 5
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert APIClient().get("/api/health/").json()["storage"] == "ok"
    # The store goes away (nothing listens on port 9)...
    use_storage(settings, **s3_storage.storage_options(endpoint_url="http://127.0.0.1:9"))

    # ...health keeps its last answer for the period, then checks again and says so.
    with time_machine.travel(start + timedelta(seconds=4), tick=False):
        cached = APIClient().get("/api/health/")
    with time_machine.travel(start + timedelta(seconds=6), tick=False):
        checked = APIClient().get("/api/health/")

    assert (cached.status_code, cached.json()["storage"]) == (200, "ok")
    assert checked.status_code == 503
    assert checked.json()["status"] == "unavailable"
    assert (checked.json()["database"], checked.json()["storage"]) == ("ok", "unavailable")
