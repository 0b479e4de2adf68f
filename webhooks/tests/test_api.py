"""/api/webhooks/: registering, listing, changing, rotating and deleting endpoints; owners only; the cap."""

import base64

import pytest
from django.utils import timezone

from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

from .conftest import WEBHOOKS_URL

pytestmark = pytest.mark.django_db

ALL_EVENTS = ["image.ready", "image.failed", "image.deleted", "upload.completed"]
SHOWN = ["id", "url", "events", "description", "enabled", "created_at", "updated_at", "failing_since"]


def detail(pk: int, action: str = "") -> str:
    return f"{WEBHOOKS_URL}{pk}/{action}"


def test_registering_answers_the_endpoint_with_its_secret_and_every_event_by_default(auth_client, user, receiver):
    response = auth_client.post(WEBHOOKS_URL, {"url": receiver.url(), "description": "mine"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert sorted(body) == sorted([*SHOWN, "secret"])
    assert (body["url"], body["events"], body["description"], body["enabled"]) == (
        receiver.url(),
        ALL_EVENTS,
        "mine",
        True,
    )
    assert body["secret"].startswith("whsec_") and len(base64.b64decode(body["secret"][6:])) == 32
    row = WebhookEndpoint.objects.get()
    assert (row.pk, row.user, row.secret, row.events) == (body["id"], user, body["secret"], ALL_EVENTS)


def test_the_secret_is_shown_only_when_registered_and_rotated(auth_client, endpoint, receiver):
    created = endpoint(receiver.url())

    listed = auth_client.get(WEBHOOKS_URL).json()
    shown = auth_client.get(detail(created["id"])).json()
    patched = auth_client.patch(detail(created["id"]), {"description": "x"}, format="json").json()

    assert [sorted(item) for item in listed] == [sorted(SHOWN)]
    assert sorted(shown) == sorted(SHOWN) and sorted(patched) == sorted(SHOWN)
    assert created["secret"] not in str([listed, shown, patched])


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (["image.ready", "image.exploded"], '"image.exploded" is not a valid choice.'),
        ([], "This list may not be empty."),
        (["webhook.test"], '"webhook.test" is not a valid choice.'),
    ],
)
def test_unknown_or_no_events_are_refused(auth_client, receiver, events, message):
    response = auth_client.post(WEBHOOKS_URL, {"url": receiver.url(), "events": events}, format="json")

    assert response.status_code == 400
    assert response.json() == {"events": [message]}  # a flat list, as every field's errors
    assert not WebhookEndpoint.objects.exists()


def test_events_are_kept_once_each_in_a_stable_order(endpoint, receiver):
    created = endpoint(receiver.url(), events=["image.deleted", "image.ready", "image.deleted"])

    assert created["events"] == ["image.ready", "image.deleted"]


def test_patch_changes_url_events_description_and_enabled(auth_client, endpoint, receiver):
    created = endpoint(receiver.url())
    changes = {"url": receiver.url("/other"), "events": ["image.failed"], "description": "d", "enabled": False}

    response = auth_client.patch(detail(created["id"]), changes, format="json")

    assert response.status_code == 200
    assert {key: response.json()[key] for key in changes} == changes
    row = WebhookEndpoint.objects.get()
    assert (row.url, row.events, row.description, row.enabled, row.secret) == (
        *changes.values(),
        created["secret"],
    )
    assert auth_client.put(detail(created["id"]), changes, format="json").status_code == 405


def test_enabling_again_forgets_the_failures(auth_client, endpoint, receiver):
    created = endpoint(receiver.url())
    WebhookEndpoint.objects.update(enabled=False, failing_since=timezone.now())

    response = auth_client.patch(detail(created["id"]), {"enabled": True}, format="json")

    assert (response.json()["enabled"], response.json()["failing_since"]) == (True, None)
    assert WebhookEndpoint.objects.get().failing_since is None


def test_delete_removes_the_endpoint_and_its_deliveries(auth_client, endpoint, receiver):
    created = endpoint(receiver.url())
    auth_client.post(detail(created["id"], "test/"))

    response = auth_client.delete(detail(created["id"]))

    assert response.status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert WebhookEvent.objects.count() == 1  # the event stays until it is swept (others may share it)


def test_rotating_keeps_the_old_secret_for_24_hours(auth_client, endpoint, receiver):
    created = endpoint(receiver.url())

    response = auth_client.post(detail(created["id"], "rotate-secret/"))

    assert response.status_code == 200
    rotated = response.json()
    assert sorted(rotated) == sorted([*SHOWN, "secret"])
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    row = WebhookEndpoint.objects.get()
    assert (row.secret, row.previous_secret) == (rotated["secret"], created["secret"])
    hours = (row.previous_secret_expires_at - timezone.now()).total_seconds() / 3600
    assert 23.9 < hours <= 24
    assert row.signing_secrets() == [rotated["secret"], created["secret"]]


def test_the_number_of_endpoints_is_capped(auth_client, endpoint, receiver, settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 2
    endpoint(receiver.url("/1"))
    endpoint(receiver.url("/2"))

    response = auth_client.post(WEBHOOKS_URL, {"url": receiver.url("/3")}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "You have 2 webhook endpoints, the most allowed: delete one first.",
        "code": "webhook_limit",
    }
    assert WebhookEndpoint.objects.count() == 2


def test_the_cap_is_per_user(auth_client, other_client, endpoint, receiver, settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 1
    endpoint(receiver.url())

    response = other_client.post(WEBHOOKS_URL, {"url": receiver.url()}, format="json")

    assert response.status_code == 201


def test_a_disabled_endpoint_gets_no_test_event(auth_client, endpoint, receiver):
    created = endpoint(receiver.url())
    auth_client.patch(detail(created["id"]), {"enabled": False}, format="json")

    response = auth_client.post(detail(created["id"], "test/"))

    assert response.status_code == 409
    assert response.json()["code"] == "endpoint_disabled"
    assert not WebhookDelivery.objects.exists() and receiver.received == []


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "rotate-secret/"),
        ("post", "test/"),
        ("get", "deliveries/"),
    ],
)
def test_another_users_endpoint_is_a_404_and_stays_as_it_was(other_client, endpoint, receiver, method, action):
    created = endpoint(receiver.url())

    response = getattr(other_client, method)(detail(created["id"], action), {"enabled": False}, format="json")

    assert response.status_code == 404
    row = WebhookEndpoint.objects.get()
    assert (row.enabled, row.secret, row.previous_secret) == (True, created["secret"], "")
    assert not WebhookDelivery.objects.exists() and receiver.received == []


def test_another_users_delivery_is_a_404_to_redeliver(auth_client, other_client, endpoint, receiver, committed):
    created = endpoint(receiver.url())
    with committed():
        delivery = auth_client.post(detail(created["id"], "test/")).json()
    receiver.wait_for(1)
    theirs = other_client.post(WEBHOOKS_URL, {"url": receiver.url()}, format="json").json()

    for client, endpoint_id in ((other_client, created["id"]), (other_client, theirs["id"])):
        response = client.post(detail(endpoint_id, f"deliveries/{delivery['id']}/redeliver/"))
        assert response.status_code == 404

    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_the_list_shows_only_your_own(auth_client, other_client, endpoint, receiver):
    mine = endpoint(receiver.url("/mine"))
    other_client.post(WEBHOOKS_URL, {"url": receiver.url("/theirs")}, format="json")

    listed = auth_client.get(WEBHOOKS_URL).json()

    assert [item["id"] for item in listed] == [mine["id"]]


def test_endpoints_need_a_token(api_client):
    assert api_client.get(WEBHOOKS_URL).status_code == 401
    assert api_client.post(WEBHOOKS_URL, {"url": "https://example.com/"}, format="json").status_code == 401


def test_deliveries_come_newest_first_in_pages_with_a_link(
    auth_client, endpoint, receiver, committed, django_assert_num_queries
):
    created = endpoint(receiver.url())
    with committed():
        sent = [auth_client.post(detail(created["id"], "test/")).json()["id"] for _ in range(5)]
    receiver.wait_for(5)

    pages, url = [], detail(created["id"], "deliveries/?limit=2")
    while url:
        with django_assert_num_queries(3):  # the user, the endpoint, the page with its events
            response = auth_client.get(url)
        assert response.status_code == 200
        pages.append([item["id"] for item in response.json()])
        link = response.headers.get("Link")
        url = link.split(";")[0].strip("<>").replace("http://testserver", "") if link else None

    assert pages == [sent[4:2:-1], sent[2:0:-1], sent[:1]]
    first = auth_client.get(detail(created["id"], "deliveries/")).json()[0]
    assert first["event"]["type"] == "webhook.test" and first["event"]["id"].startswith("msg_")
    assert (first["state"], first["attempts"], first["status_code"], first["next_attempt_at"]) == (
        "delivered",
        1,
        200,
        None,
    )
    assert first["response"].startswith('{"received": true}') and len(first["response"]) <= 200
    bad = auth_client.get(detail(created["id"], "deliveries/?cursor=forged"))
    assert (bad.status_code, bad.json()) == (400, {"cursor": ["Invalid cursor."]})


def test_lists_refuse_query_parameters_they_do_not_know(auth_client, endpoint, receiver):
    created = endpoint(receiver.url())

    endpoints = auth_client.get(WEBHOOKS_URL, {"page": 2})
    deliveries = auth_client.get(detail(created["id"], "deliveries/"), {"page": 2, "limit": 1})

    assert (endpoints.status_code, endpoints.json()) == (
        400,
        {"page": ["Unknown query parameter. This list takes no query parameters."]},
    )
    assert (deliveries.status_code, deliveries.json()) == (
        400,
        {"page": ["Unknown query parameter. This list takes: limit, cursor."]},
    )
