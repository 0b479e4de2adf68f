"""Webhooks: endpoints, events recorded with the change they announce (an outbox), deliveries and their retries.

An event is written in the transaction of its change (images.events.image_event), with one delivery per
endpoint subscribed to it; after the commit each delivery is queued for a worker. A delivery whose job is lost
(the broker down, a worker killed) stays pending in the database, and the sweeper (`deliveries_sweep`, beat
every WEBHOOK_SWEEP_INTERVAL s) queues it again: nothing is lost, and a receiver may see an event twice.
"""

import json
import logging
import time
from datetime import datetime, timedelta
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from config import errors
from config.celery import app as celery_app
from config.errors import DomainError
from config.unavailable import BROKER_ERRORS
from images.events import IMAGE_DELETED
from images.models import Image
from images.serializers import ImageSerializer

from . import transport
from .models import WEBHOOK_TEST, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .signing import secret_generate, signed_headers
from .targets import TargetRefused, target_resolve

logger = logging.getLogger(__name__)

SECRET_OVERLAP = timedelta(hours=24)  # how long a rotated-out secret keeps signing beside the new one
# An attempt holds its delivery for twice its timeout and this much more (DNS, recording the answer); a worker
# that dies mid-attempt leaves the delivery to the sweeper once this lease has passed.
LEASE_MARGIN = 5
# Retries this soon are queued with a countdown (held by the broker); later ones are left to the sweeper, as
# a countdown held longer than Redis's visibility timeout (CELERY_VISIBILITY_TIMEOUT, 30 s) would be delivered
# again meanwhile.
COUNTDOWN_MAX = 60
SWEEP_BATCH = 500
USER_AGENT = "ImageService-Webhooks/1.0 (Standard Webhooks)"
DELIVER_TASK = "webhooks.tasks.deliver_webhook"


class WebhookError(DomainError):
    """A webhook operation the owner's state does not allow (a conflict); `code` names it in the answer."""

    kind = errors.CONFLICT
    code = "webhook_error"


class EndpointLimitReached(WebhookError):
    code = "webhook_limit"

    def __init__(self, limit: int) -> None:
        super().__init__(f"You have {limit} webhook endpoints, the most allowed: delete one first.")


class EndpointDisabled(WebhookError):
    code = "endpoint_disabled"

    def __init__(self) -> None:
        super().__init__("The endpoint is disabled: enable it first (PATCH enabled=true).")


# --- Endpoints ----------------------------------------------------------------------------------


def endpoint_create(*, user, url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    """Register an endpoint with a new secret; raise EndpointLimitReached past WEBHOOK_MAX_ENDPOINTS."""
    with transaction.atomic():
        # The owner's row locked (an UPDATE of it to itself, as images.quota does): two creations at once are
        # counted one after the other, on PostgreSQL and on SQLite alike.
        get_user_model()._default_manager.filter(pk=user.pk).update(id=F("id"))
        limit = settings.WEBHOOK_MAX_ENDPOINTS
        if WebhookEndpoint.objects.filter(user=user).count() >= limit:
            raise EndpointLimitReached(limit)
        return WebhookEndpoint.objects.create(
            user=user, url=url, events=events, description=description, secret=secret_generate()
        )


def endpoint_update(endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change url, events, description or enabled; enabling again forgets the failures that disabled it."""
    if changes.get("enabled") and not endpoint.enabled:
        endpoint.failing_since = None
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.save()
    return endpoint


def endpoint_rotate_secret(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Give the endpoint a new secret; the one it had signs beside it for SECRET_OVERLAP more."""
    with transaction.atomic():
        _endpoint_lock(endpoint.pk)
        endpoint = WebhookEndpoint.objects.get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
        endpoint.secret = secret_generate()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


def endpoint_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `webhook.test` event to this endpoint alone; return its delivery as it now is."""
    if not endpoint.enabled:
        raise EndpointDisabled()
    with transaction.atomic():
        event = event_create(endpoint.user_id, WEBHOOK_TEST, {"endpoint": endpoint.pk})
        delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
        deliveries_schedule([delivery.pk])
    return delivery_read(delivery.pk)


# --- Events (the outbox) ------------------------------------------------------------------------


class _BaseURL:
    """What ImageSerializer asks of a request (absolute URLs), answered from WEBHOOK_BASE_URL."""

    def build_absolute_uri(self, location: str) -> str:
        base = settings.WEBHOOK_BASE_URL
        return urljoin(base + "/", location) if base else location


def image_event_record(event_type: str, image: Image) -> WebhookEvent | None:
    """Record an image's event for each of its owner's enabled endpoints subscribed to it, in the current
    transaction; queue the deliveries once it commits. Nothing at all (one query) for an owner with none."""
    enabled = WebhookEndpoint.objects.filter(user_id=image.user_id, enabled=True)
    endpoints = [pk for pk, events in enabled.values_list("pk", "events") if event_type in events]
    if not endpoints:
        return None
    if event_type == IMAGE_DELETED:
        data = {"id": image.pk}
    else:  # the image as GET /api/images/{id}/ answers it
        data = ImageSerializer(image, context={"request": _BaseURL()}).data
    with transaction.atomic():
        event = event_create(image.user_id, event_type, data)
        deliveries = [WebhookDelivery.objects.create(event=event, endpoint_id=pk) for pk in endpoints]
        deliveries_schedule([delivery.pk for delivery in deliveries])
    return event


def event_create(user_id: int, event_type: str, data: dict) -> WebhookEvent:
    """Insert an event with its body, `{type, timestamp, data}`, as every delivery will send it."""
    now = timezone.now()
    payload = {"type": event_type, "timestamp": _iso(now), "data": data}
    body = json.dumps(payload, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return WebhookEvent.objects.create(user_id=user_id, type=event_type, body=body, created_at=now)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- Deliveries ---------------------------------------------------------------------------------


def deliveries_schedule(delivery_ids: list[int], countdown: int = 0) -> None:
    """Queue these deliveries once the current transaction commits; a broker that is down leaves them to the sweeper."""

    def publish() -> None:
        for pk in delivery_ids:
            try:
                # By name, as Celery allows: the task module wraps this one (the app's ready() registers it).
                celery_app.signature(DELIVER_TASK, args=(pk,)).apply_async(countdown=countdown)  # 0: no ETA
            except BROKER_ERRORS as exc:
                logger.error("Could not queue webhook delivery %s (the sweeper will): %s", pk, exc)
                return  # the broker is down: the rest would fail the same way

    if delivery_ids:
        transaction.on_commit(publish, robust=True)


def delivery_read(pk: int) -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("event").get(pk=pk)


def delivery_redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, with the same webhook-id, as a new run of attempts (retries included)."""
    if not deliveries_redeliver(WebhookDelivery.objects.filter(pk=delivery.pk)):
        raise EndpointDisabled()
    return delivery_read(delivery.pk)


def deliveries_redeliver(deliveries: QuerySet) -> int:
    """Send these deliveries again, those of enabled endpoints (a disabled one receives nothing); return how many."""
    ids = list(deliveries.filter(endpoint__enabled=True).values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        state=WebhookDelivery.State.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    deliveries_schedule(ids)
    return len(ids)


def delivery_attempt(delivery_id: int) -> None:
    """Make the delivery's next attempt if it is due and no other worker is making it; record what came of it.

    Idempotent: a job delivered twice, or queued again by the sweeper, finds the delivery claimed, done or
    not due yet, and does nothing.
    """
    now = timezone.now()
    lease = now + timedelta(seconds=2 * settings.WEBHOOK_TIMEOUT + LEASE_MARGIN)
    # The claim: one conditional UPDATE, so that of two workers holding the same job only one sends it.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now + timedelta(seconds=1)
    ).update(next_attempt_at=lease)
    if not claimed:
        return
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    if not delivery.endpoint.enabled:
        answer = transport.Answer(None, "", "The endpoint is disabled.", 0)
        _record(delivery, answer, retry=False)
        return
    _record(delivery, _send(delivery))


def _send(delivery: WebhookDelivery) -> transport.Answer:
    endpoint, event = delivery.endpoint, delivery.event
    try:
        target = target_resolve(endpoint.url)  # again: DNS may have changed since the endpoint was registered
    except TargetRefused as exc:
        return transport.Answer(None, "", f"Refused: {exc}", 0)
    body = event.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signed_headers(endpoint.signing_secrets(), event.message_id, int(time.time()), body),
    }
    return transport.post(target, body, headers, settings.WEBHOOK_TIMEOUT)


def _record(delivery: WebhookDelivery, answer: transport.Answer, retry: bool = True) -> None:
    """Write an attempt's outcome: delivered, a retry due later, or failed; keep the endpoint's failure run."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields = {
        "attempts": attempts,
        "last_attempt_at": now,
        "status_code": answer.status,
        "duration_ms": answer.duration_ms,
        "response": answer.excerpt,
        "error": answer.error[:300],
    }
    delays = settings.WEBHOOK_RETRY_DELAYS
    delay = delays[attempts - 1] if retry and attempts <= len(delays) else None
    with transaction.atomic():
        if not _endpoint_lock(delivery.endpoint_id):
            return  # deleted meanwhile, with its deliveries
        endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
        if answer.ok:
            fields |= {"state": WebhookDelivery.State.DELIVERED, "next_attempt_at": None}
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        else:
            if endpoint.enabled and _endpoint_failed(endpoint, now):
                delay = None  # disabled now: no more retries
            if delay is None:
                fields |= {"state": WebhookDelivery.State.FAILED, "next_attempt_at": None}
            else:
                fields["next_attempt_at"] = now + timedelta(seconds=delay)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        countdown_max = min(COUNTDOWN_MAX, settings.CELERY_VISIBILITY_TIMEOUT - LEASE_MARGIN)
        if delay is not None and not answer.ok and delay <= countdown_max:
            deliveries_schedule([delivery.pk], countdown=delay)
    level = logging.INFO if answer.ok else logging.WARNING
    outcome = answer.status or answer.error
    logger.log(level, "Webhook %s to endpoint %s: %s", delivery.event.message_id, endpoint.pk, outcome)


def _endpoint_lock(pk: int) -> bool:
    """Lock the endpoint's row until the transaction ends (False: it is gone), with a write that changes nothing.

    A write rather than select_for_update: on SQLite, where select_for_update does nothing, it takes the
    database's write lock at once; a transaction that reads first and writes later can fail there with
    "database is locked" instead of waiting (images.quota does the same).
    """
    return bool(WebhookEndpoint.objects.filter(pk=pk).update(failing_since=F("failing_since")))


def _endpoint_failed(endpoint: WebhookEndpoint, now: datetime) -> bool:
    """Count a failure in the endpoint's run of failures; past WEBHOOK_DISABLE_AFTER_DAYS, disable it, fail its
    pending deliveries and tell its owner (return True)."""
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
        return False
    if now - endpoint.failing_since < timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS):
        return False
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, updated_at=now)
    WebhookDelivery.objects.filter(endpoint=endpoint, state=WebhookDelivery.State.PENDING).update(
        state=WebhookDelivery.State.FAILED, next_attempt_at=None, error="The endpoint was disabled."
    )
    logger.warning("Webhook endpoint %s disabled: failing since %s", endpoint.pk, endpoint.failing_since)
    transaction.on_commit(lambda: _endpoint_disabled_mail(endpoint), robust=True)
    return True


def _endpoint_disabled_mail(endpoint: WebhookEndpoint) -> None:
    user = endpoint.user
    context = {"user": user, "endpoint": endpoint, "days": settings.WEBHOOK_DISABLE_AFTER_DAYS}
    subject = render_to_string("webhooks/email/endpoint_disabled_subject.txt", context).strip()
    body = render_to_string("webhooks/email/endpoint_disabled.txt", context)
    send_mail(subject, body, None, [user.email])


# --- The sweeper --------------------------------------------------------------------------------


def deliveries_sweep() -> dict[str, int]:
    """Queue again deliveries due for over WEBHOOK_SWEEP_INTERVAL s (their job lost, or a retry left to this);
    forget events older than WEBHOOK_RETENTION_DAYS. Safe to run at any time and anywhere."""
    now = timezone.now()
    overdue = WebhookDelivery.objects.filter(
        state=WebhookDelivery.State.PENDING,
        next_attempt_at__lte=now - timedelta(seconds=settings.WEBHOOK_SWEEP_INTERVAL),
    )
    ids = list(overdue.values_list("pk", flat=True)[:SWEEP_BATCH])
    # Due from now: queued once per interval at most, however long the queue takes to reach them. Two sweepers
    # at once may queue one twice: the attempt's claim lets one job through.
    overdue.filter(pk__in=ids).update(next_attempt_at=now)
    deliveries_schedule(ids)
    cutoff = now - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    _, deleted = (
        WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(deliveries__state=WebhookDelivery.State.PENDING)
    ).delete()
    return {"queued": len(ids), "forgotten": deleted.get(WebhookEvent._meta.label, 0)}
