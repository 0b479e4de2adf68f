"""Events after real uploads, direct uploads, variant failures and deletes, delivered to a real receiver on
loopback and verified with `standardwebhooks`; retries, the same webhook-id, timeouts, rotation, disabling."""

import io
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import WebhookVerificationError

from images.events import IMAGE_READY, image_event_send
from images.models import Image
from images.sweep import images_sweep
from images.tasks import make_variants
from testutils import detail_url, image_bytes
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services import deliveries_sweep, endpoint_test

from .conftest import WEBHOOKS_URL

pytestmark = pytest.mark.django_db

MESSAGE_ID = re.compile(r"msg_[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def _absolute_urls(settings) -> None:
    settings.WEBHOOK_BASE_URL = "http://testserver"  # file URLs in events as GET answers them to the test client


def test_image_ready_after_an_upload_carries_the_image_as_get_shows_it(
    endpoint, receiver, upload, auth_client, committed
):
    created = endpoint(receiver.url(), events=["image.ready"])

    with committed():
        body = upload(title="Sunset")

    [request] = receiver.wait_for(1)
    payload = request.verified(created["secret"])
    assert payload["type"] == "image.ready"
    assert payload["data"] == auth_client.get(detail_url(body["id"])).json()
    assert payload["data"]["processing"] == "ready" and payload["data"]["variants"]["thumbnail"]["url"]
    assert MESSAGE_ID.fullmatch(request.headers["webhook-id"])
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("ImageService-Webhooks/")
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    assert payload["timestamp"].endswith("Z")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code, delivery.event.message_id) == (
        "delivered",
        1,
        200,
        request.headers["webhook-id"],
    )


def test_a_direct_upload_announces_its_completion_then_its_variants(endpoint, receiver, auth_client, committed):
    created = endpoint(receiver.url())
    data = image_bytes("JPEG", size=(64, 48))
    signed = auth_client.post("/api/images/uploads/", {"filename": "d.jpg", "size": len(data)}, format="json").json()
    form = {**signed["fields"], "file": io.BytesIO(data)}
    form["file"].name = "d.jpg"
    assert APIClient().post(urlsplit(signed["url"]).path, form, format="multipart").status_code == 204

    with committed():
        completed = auth_client.post(f"/api/images/uploads/{signed['id']}/complete/", format="json").json()

    first, second = (request.verified(created["secret"]) for request in receiver.wait_for(2))
    assert [first["type"], second["type"]] == ["upload.completed", "image.ready"]
    assert first["data"]["id"] == second["data"]["id"] == completed["id"]
    assert first["data"]["processing"] == "pending" and second["data"]["processing"] == "ready"
    assert sorted(first["data"]) == sorted(auth_client.get(detail_url(completed["id"])).json())


def test_a_variant_failure_announces_image_failed(endpoint, receiver, upload, media_root, committed):
    created = endpoint(receiver.url(), events=["image.failed"])
    body = upload()  # its variants wait for a commit that never comes here
    image = Image.objects.get(pk=body["id"])
    (media_root / image.image.name).write_bytes(b"no longer an image")

    with committed():
        make_variants.delay(image.pk)

    [request] = receiver.wait_for(1)
    payload = request.verified(created["secret"])
    assert (payload["type"], payload["data"]["id"], payload["data"]["processing"]) == (
        "image.failed",
        image.pk,
        "failed",
    )


def test_the_sweeper_failing_a_stuck_image_announces_it_once(endpoint, receiver, upload, settings, committed):
    created = endpoint(receiver.url(), events=["image.failed"])
    body = upload()
    Image.objects.update(
        processing_queued_at=timezone.now() - timedelta(hours=1), processing_requeues=settings.IMAGE_SWEEP_MAX_REQUEUES
    )

    with committed():
        assert images_sweep()["failed"] == 1
        assert images_sweep()["failed"] == 0

    [request] = receiver.wait_for(1)
    assert request.verified(created["secret"])["data"]["id"] == body["id"]
    assert WebhookEvent.objects.count() == 1


def test_a_deletion_announces_the_images_id(endpoint, receiver, upload, auth_client, committed):
    created = endpoint(receiver.url(), events=["image.deleted"])
    body = upload()

    with committed():
        assert auth_client.delete(f"/api/images/{body['id']}/delete/").status_code == 204

    [request] = receiver.wait_for(1)
    payload = request.verified(created["secret"])
    assert (payload["type"], payload["data"]) == ("image.deleted", {"id": body["id"]})


def test_nothing_is_recorded_for_owners_without_a_subscribed_enabled_endpoint(
    endpoint, receiver, upload, auth_client, other_client, committed
):
    endpoint(receiver.url("/deleted-only"), events=["image.deleted"])
    disabled = endpoint(receiver.url("/disabled"))
    auth_client.patch(f"{WEBHOOKS_URL}{disabled['id']}/", {"enabled": False}, format="json")
    other_client.post(WEBHOOKS_URL, {"url": receiver.url("/other")}, format="json")

    with committed():
        upload()  # image.ready for alice: subscribed by nobody enabled of hers

    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert receiver.received == []


def test_an_event_rolls_back_with_its_change(endpoint, receiver, upload, committed):
    endpoint(receiver.url())
    image = Image.objects.get(pk=upload()["id"])

    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        image_event_send(IMAGE_READY, image)
        raise RuntimeError("the change fails after the event was recorded")

    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert receiver.received == []


def test_a_500_then_a_200_delivers_the_same_webhook_id_twice(endpoint, receiver, auth_client, committed, settings):
    settings.WEBHOOK_RETRY_DELAYS = [0, 0]
    receiver.answer(500, 200)
    created = endpoint(receiver.url())

    with committed():
        auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")

    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.verified(created["secret"]) == second.verified(created["secret"])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("delivered", 2, 200)
    assert WebhookEndpoint.objects.get().failing_since is None  # the success ended the run of failures


def test_a_retry_waits_its_delay_and_the_sweeper_makes_it(endpoint, receiver, auth_client, committed, settings):
    settings.WEBHOOK_RETRY_DELAYS = [5, 300]
    receiver.answer(503)
    created = endpoint(receiver.url())

    with committed():
        auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")
        assert deliveries_sweep()["queued"] == 0  # not due yet

    receiver.wait_for(1)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("pending", 1, 503)
    assert timedelta(seconds=4) < delivery.next_attempt_at - delivery.last_attempt_at <= timedelta(seconds=5)
    listed = auth_client.get(f"{WEBHOOKS_URL}{created['id']}/deliveries/").json()[0]
    assert listed["next_attempt_at"] is not None and listed["status_code"] == 503

    with time_machine.travel(timezone.now() + timedelta(minutes=1)), committed():
        assert deliveries_sweep()["queued"] == 1

    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("delivered", 2, 200)


def test_after_the_last_retry_the_delivery_is_failed(endpoint, receiver, auth_client, committed, settings):
    settings.WEBHOOK_RETRY_DELAYS = [0, 0]
    receiver.answer(500, 502, 404)
    created = endpoint(receiver.url())

    with committed():
        auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")

    assert len(receiver.wait_for(3)) == 3
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code, delivery.next_attempt_at) == (
        "failed",
        3,
        404,
        None,
    )
    assert WebhookEndpoint.objects.get().failing_since is not None


def test_a_hanging_receiver_costs_one_timeout(endpoint, receiver, auth_client, committed, settings):
    settings.WEBHOOK_TIMEOUT = 1
    receiver.answer("hang")
    created = endpoint(receiver.url())

    with committed():
        response = auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")

    assert response.status_code == 202
    assert len(receiver.received) == 1  # one attempt, nothing retried underneath
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code, delivery.error) == ("pending", 1, None, "timeout")
    assert 1000 <= delivery.duration_ms < 5000  # the deadline, not one wait per read


def test_during_a_rotation_both_secrets_sign_then_only_the_new_one(endpoint, receiver, auth_client, committed):
    created = endpoint(receiver.url())
    rotated = auth_client.post(f"{WEBHOOKS_URL}{created['id']}/rotate-secret/").json()

    with committed():
        auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")
    [during] = receiver.wait_for(1)
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        with committed():
            endpoint_test(WebhookEndpoint.objects.get())  # the service: a day later the token has expired
        [_, after] = receiver.wait_for(2)
        assert after.verified(rotated["secret"])["type"] == "webhook.test"  # verified then, as a receiver would
        with pytest.raises(WebhookVerificationError):
            after.verified(created["secret"])

    assert during.verified(created["secret"]) == during.verified(rotated["secret"])
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert len(after.headers["webhook-signature"].split(" ")) == 1


def test_an_endpoint_failing_for_five_days_is_disabled_and_its_owner_mailed(
    endpoint, receiver, auth_client, user, committed, settings, mailoutbox, upload
):
    settings.WEBHOOK_RETRY_DELAYS = [3600]
    receiver.answer(*[500] * 3)
    created = endpoint(receiver.url())
    with committed():
        auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")
    started = WebhookEndpoint.objects.get().failing_since
    assert started is not None

    # Days later the test's token has expired: the test events come from the service itself.
    with time_machine.travel(timezone.now() + timedelta(days=4)), committed():
        endpoint_test(WebhookEndpoint.objects.get())
    assert WebhookEndpoint.objects.get().enabled and mailoutbox == []
    with time_machine.travel(timezone.now() + timedelta(days=5, minutes=1)), committed():
        endpoint_test(WebhookEndpoint.objects.get())

    row = WebhookEndpoint.objects.get()
    assert (row.enabled, row.failing_since) == (False, started)
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"failed"}
    [mail] = mailoutbox
    assert mail.to == [user.email] and mail.subject == "Your webhook endpoint was disabled"
    assert receiver.url() in mail.body and "5 days" in mail.body
    with committed():
        upload()
    assert len(receiver.received) == 3  # nothing more for a disabled endpoint
    assert auth_client.get(f"{WEBHOOKS_URL}{created['id']}/").json()["enabled"] is False


def test_redelivering_sends_the_same_webhook_id_again(endpoint, receiver, auth_client, committed):
    created = endpoint(receiver.url())
    with committed():
        delivery = auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/").json()

    with committed():
        response = auth_client.post(f"{WEBHOOKS_URL}{created['id']}/deliveries/{delivery['id']}/redeliver/")

    assert response.status_code == 202
    assert (response.json()["id"], response.json()["state"]) == (delivery["id"], "pending")  # before the commit
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["event"]["id"]
    redelivered = WebhookDelivery.objects.get()
    assert (redelivered.state, redelivered.attempts) == ("delivered", 1)


def test_with_the_broker_down_nothing_is_lost_and_the_sweeper_delivers_later(
    endpoint, receiver, upload, auth_client, committed, dead_broker, caplog
):
    from config.celery import app

    created = endpoint(receiver.url(), events=["image.deleted"])
    body = upload()

    with committed():
        assert auth_client.delete(detail_url(body["id"])).status_code == 204  # committed; its queuing fails

    assert receiver.received == []
    assert "Could not queue webhook delivery" in caplog.text
    assert WebhookDelivery.objects.get().state == "pending"

    app.conf.task_always_eager = True  # the broker is back (tasks run here)
    with time_machine.travel(timezone.now() + timedelta(minutes=2)), committed():
        assert deliveries_sweep()["queued"] == 1

    [request] = receiver.wait_for(1)
    assert request.verified(created["secret"])["data"] == {"id": body["id"]}
    assert WebhookDelivery.objects.get().state == "delivered"
