"""Webhook endpoints of each user, the events recorded for them (the outbox) and one delivery per event and endpoint."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from images.events import IMAGE_EVENTS

WEBHOOK_TEST = "webhook.test"  # sent on demand to one endpoint (POST .../test/), never subscribed to
EVENT_TYPES = (*IMAGE_EVENTS, WEBHOOK_TEST)


class WebhookEndpoint(models.Model):
    """A URL of the user's that receives the events it subscribes to, signed with its secret."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text="The event types sent to this URL.")
    description = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    # Standard Webhooks secrets ("whsec_" + base64). HMAC needs the secret itself, so it is stored as it is.
    secret = models.CharField(max_length=100, editable=False)
    # After a rotation the old secret signs beside the new one until then (several signatures, as the spec allows).
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the current run of failed deliveries began (none since); the endpoint is disabled when it lasts too long.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous one during its overlap."""
        secrets = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires and expires > timezone.now():
            secrets.append(self.previous_secret)
        return secrets


class WebhookEvent(models.Model):
    """Something that happened to a user's image, recorded in the transaction that made it happen (the outbox).

    `body` is the JSON sent, `{type, timestamp, data}`, kept as text so that every attempt sends the same bytes.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=40, choices=[(t, t) for t in EVENT_TYPES])
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"

    @property
    def message_id(self) -> str:
        """The `webhook-id` of every delivery of this event, the same on each attempt (receivers dedupe on it)."""
        return f"msg_{self.id.hex}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: pending until an answer in 2xx (delivered) or the last retry fails (failed)."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts since the event, or the redelivery.")
    # When the next attempt is due, while pending. An attempt under way holds it a little ahead (a lease): a
    # worker that dies mid-attempt leaves it due again soon after, for the sweeper.
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The last attempt's answer.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="How long the last attempt took.")
    response = models.CharField(max_length=300, blank=True, help_text="The start of the last answer's body.")
    error = models.CharField(max_length=300, blank=True, help_text="Why the last attempt failed without an answer.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The deliveries of an endpoint, newest first (keyset paging on the id).
            models.Index(fields=["endpoint", "-id"], name="webhooks_endpoint_newest_idx"),
            # The sweeper's question: pending deliveries that are due.
            models.Index(
                fields=["next_attempt_at"], name="webhooks_delivery_due_idx", condition=models.Q(state="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event.type} to {self.endpoint.url}"
