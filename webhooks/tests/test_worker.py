"""End to end with the production shape: a real Redis broker and a real Celery worker process delivering."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from testutils import image_bytes, log_tail, wait_until
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_makes_the_variants_and_delivers_image_ready(broker, worker, endpoint, receiver, upload):
    created = endpoint(receiver.url(), events=["image.ready"])

    body = upload(SimpleUploadedFile("p.png", image_bytes("PNG", size=(300, 200)), content_type="image/png"))

    assert body["processing"] == "pending"  # the worker has it
    [request] = receiver.wait_for(1, timeout=60)
    payload = request.verified(created["secret"])
    assert payload["type"] == "image.ready"
    assert (payload["data"]["id"], payload["data"]["processing"]) == (body["id"], "ready")
    # The worker records the answer after the receiver got the request.
    wait_until(
        lambda: WebhookDelivery.objects.get().state != "pending", "the delivery recorded", timeout=30, log=worker
    )
    assert WebhookDelivery.objects.get().state == "delivered", log_tail(worker)
