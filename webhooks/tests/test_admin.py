"""The admin: endpoints and deliveries visible to staff (never a secret), and a redeliver action."""

import pytest

from webhooks.models import WebhookDelivery

from .conftest import WEBHOOKS_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(endpoint, receiver, auth_client, committed) -> dict:
    """An endpoint with one delivered test event: (the endpoint's 201 body)."""
    created = endpoint(receiver.url(), description="shop")
    with committed():
        auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")
    receiver.wait_for(1)
    return created


def test_staff_see_endpoints_without_their_secret(admin_client, delivered, receiver):
    listed = admin_client.get("/admin/webhooks/webhookendpoint/")
    page = admin_client.get(f"/admin/webhooks/webhookendpoint/{delivered['id']}/change/")

    assert listed.status_code == page.status_code == 200
    assert receiver.url() in listed.content.decode() and "shop" in page.content.decode()
    assert delivered["secret"] not in listed.content.decode() + page.content.decode()


def test_staff_see_deliveries_with_what_was_sent(admin_client, delivered, user):
    delivery = WebhookDelivery.objects.select_related("event").get()

    listed = admin_client.get("/admin/webhooks/webhookdelivery/?state=delivered")
    page = admin_client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")

    assert listed.status_code == page.status_code == 200
    assert "webhook.test" in listed.content.decode() and user.email in listed.content.decode()
    html = page.content.decode()
    assert delivery.event.message_id in html and "&quot;type&quot;:&quot;webhook.test&quot;" in html
    assert delivered["secret"] not in html


def test_the_redeliver_action_sends_the_same_webhook_id_again(admin_client, delivered, receiver, committed):
    delivery = WebhookDelivery.objects.get()

    with committed():
        response = admin_client.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [delivery.pk]},
            follow=True,
        )

    assert "1 delivery(ies) queued again." in response.content.decode()
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.verified(delivered["secret"])["type"] == "webhook.test"


def test_staff_edits_follow_the_apis_rules(admin_client, delivered, settings):
    from webhooks.models import WebhookEndpoint

    WebhookEndpoint.objects.update(enabled=False, failing_since="2024-01-01T00:00:00Z")
    page = f"/admin/webhooks/webhookendpoint/{delivered['id']}/change/"
    form = {"url": "http://169.254.169.254/", "events": ["image.ready"], "description": "", "enabled": "on"}

    refused = admin_client.post(page, form)
    saved = admin_client.post(page, {**form, "url": delivered["url"]})

    assert "it is a cloud metadata address" in refused.content.decode()
    assert saved.status_code == 302
    row = WebhookEndpoint.objects.get()
    assert (row.url, row.events, row.enabled, row.failing_since) == (delivered["url"], ["image.ready"], True, None)
