"""Webhook endpoints as registered and shown, and their deliveries."""

from rest_framework import serializers

from images.events import IMAGE_EVENTS

from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from .services import endpoint_create, endpoint_update
from .targets import TargetRefused, target_resolve


class EventTypesField(serializers.ListField):
    """A list of event types; its errors are a flat list of messages, like every field's (not one per index)."""

    def run_child_validation(self, data: list) -> list:
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as exc:
            # ListField's errors are {index: [messages]}; a flat list is taken as it is.
            per_items = exc.detail.values() if isinstance(exc.detail, dict) else [exc.detail]
            messages = [str(message) for per_item in per_items for message in per_item]
            raise serializers.ValidationError(messages) from None


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint without its secret (list, detail, PATCH)."""

    events = EventTypesField(
        child=serializers.ChoiceField(choices=IMAGE_EVENTS),
        allow_empty=False,
        required=False,
        help_text="The event types to send; all of them when left out.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "description", "enabled", "created_at", "updated_at", "failing_since"]
        read_only_fields = ["id", "created_at", "updated_at", "failing_since"]
        extra_kwargs = {
            "url": {"help_text": "https:// (http:// in development); never a private, loopback or metadata address."},
            "enabled": {"help_text": "A disabled endpoint receives nothing; one failing for days is disabled."},
            "failing_since": {"help_text": "When its deliveries began failing without a success since; null if none."},
        }

    def validate_url(self, value: str) -> str:
        try:
            target_resolve(value)
        except TargetRefused as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return [event for event in IMAGE_EVENTS if event in value]  # each once, in a stable order

    def update(self, instance: WebhookEndpoint, validated_data: dict) -> WebhookEndpoint:
        return endpoint_update(instance, **validated_data)


class WebhookEndpointCreateSerializer(WebhookEndpointSerializer):
    """POST /api/webhooks/ and the rotation's answer: the endpoint with its secret, shown only then."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookEndpointSerializer.Meta.read_only_fields, "secret", "enabled"]
        extra_kwargs = {
            **WebhookEndpointSerializer.Meta.extra_kwargs,
            "secret": {"help_text": "Verifies the signatures (whsec_...): keep it; it is shown only now."},
        }

    def create(self, validated_data: dict) -> WebhookEndpoint:
        return endpoint_create(
            user=validated_data["user"],
            url=validated_data["url"],
            events=validated_data.get("events") or list(IMAGE_EVENTS),
            description=validated_data.get("description", ""),
        )


class WebhookEventSummarySerializer(serializers.ModelSerializer):
    """The event a delivery carries: its webhook-id, type and time."""

    id = serializers.CharField(source="message_id", read_only=True, help_text="The webhook-id of its deliveries.")

    class Meta:
        model = WebhookEvent
        fields = ["id", "type", "created_at"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One event to one endpoint: its state, the last attempt's answer, and when the next one is due."""

    event = WebhookEventSummarySerializer(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "state",
            "attempts",
            "status_code",
            "duration_ms",
            "response",
            "error",
            "last_attempt_at",
            "next_attempt_at",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"next_attempt_at": {"help_text": "When the next attempt is due, while pending."}}
