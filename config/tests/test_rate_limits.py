"""Rate limits a client sees coming: RateLimit-Policy and RateLimit headers (IETF httpapi draft) on throttled views."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from testutils import LIST_URL, UPLOAD_URL, bad_login

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def test_a_throttled_endpoint_says_its_quota_and_what_is_left_before_the_429(api_client, low_rates):
    with time_machine.travel(START, tick=False) as clock:
        first = bad_login(api_client)
        clock.shift(20)
        second = bad_login(api_client)
        clock.shift(10)
        refused = bad_login(api_client)

    assert [first.status_code, second.status_code, refused.status_code] == [401, 401, 429]
    for response in (first, second, refused):
        assert response["RateLimit-Policy"] == '"login";q=2;w=60'  # 2 requests a minute (low_rates)
    assert first["RateLimit"] == '"login";r=1;t=60'
    assert second["RateLimit"] == '"login";r=0;t=40'  # the first request leaves the window in 40 s
    assert refused["RateLimit"] == '"login";r=0;t=30'
    assert refused["Retry-After"] == "30"


def test_uploads_are_counted_per_user_and_unthrottled_views_say_nothing(
    auth_client, other_client, make_image, low_rates
):
    mine = auth_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart")
    theirs = other_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart")
    listed = auth_client.get(LIST_URL)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine["RateLimit"] == theirs["RateLimit"] == '"upload";r=1;t=60'
    assert "RateLimit" not in listed and "RateLimit-Policy" not in listed


def test_browsers_may_read_the_headers(api_client, low_rates, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    response = api_client.post(
        reverse("users:login"),
        {"email": "x@example.com", "password": "x"},
        format="json",
        HTTP_ORIGIN="https://app.example.com",
    )

    exposed = {name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")}
    assert {"ratelimit", "ratelimit-policy", "retry-after"} <= exposed
