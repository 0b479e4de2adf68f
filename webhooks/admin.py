"""Admin for webhooks: endpoints (never their secrets) and deliveries, with a redeliver action."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from images.events import IMAGE_EVENTS

from .models import WebhookDelivery, WebhookEndpoint
from .services import deliveries_redeliver
from .targets import TargetRefused, target_resolve


class WebhookEndpointAdminForm(forms.ModelForm):
    """The API's rules for a URL and its events, here too."""

    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=[(event, event) for event in IMAGE_EVENTS])

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "enabled"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            target_resolve(url)
        except TargetRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Each user's endpoints: where, what, whether enabled, since when failing."""

    form = WebhookEndpointAdminForm
    list_display = ("id", "url", "user", "enabled", "event_list", "failing_since", "created_at")
    list_filter = ("enabled", "created_at")
    list_select_related = ("user",)
    search_fields = ("url", "description", "user__email")
    readonly_fields = ("user", "failing_since", "secret_rotated_until", "created_at", "updated_at")
    fields = ("user", "url", "events", "description", "enabled", *readonly_fields[1:])

    @admin.display(description="Events")
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    @admin.display(description="Previous secret signs until")
    def secret_rotated_until(self, obj: WebhookEndpoint):
        return obj.previous_secret_expires_at or "—"

    def save_model(self, request, obj: WebhookEndpoint, form: WebhookEndpointAdminForm, change: bool) -> None:
        if "enabled" in form.changed_data and obj.enabled:
            obj.failing_since = None  # enabled again: its failures count afresh, as through the API
        super().save_model(request, obj, form, change)

    def has_add_permission(self, request) -> bool:
        return False  # users register their own: the secret is shown to them alone, once


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every delivery: its event, endpoint, state, last answer and next attempt; redeliver from the list."""

    list_display = (
        "id",
        "event_type",
        "endpoint_url",
        "owner",
        "state",
        "attempts",
        "status_code",
        "duration_ms",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("state", "event__type", "created_at")
    list_select_related = ("event", "endpoint__user")
    search_fields = ("endpoint__url", "endpoint__user__email", "event__id")
    date_hierarchy = "created_at"
    actions = ["redeliver"]
    readonly_fields = (
        "event_type",
        "webhook_id",
        "endpoint",
        "state",
        "attempts",
        "status_code",
        "duration_ms",
        "response",
        "error",
        "last_attempt_at",
        "next_attempt_at",
        "created_at",
        "body",
    )
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # read-only: the view page shows it, the action redelivers

    @admin.display(description="Event", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description="webhook-id")
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return obj.event.message_id

    @admin.display(description="Endpoint", ordering="endpoint__url")
    def endpoint_url(self, obj: WebhookDelivery) -> str:
        return obj.endpoint.url

    @admin.display(description="Owner", ordering="endpoint__user__email")
    def owner(self, obj: WebhookDelivery) -> str:
        return obj.endpoint.user.email

    @admin.display(description="Body sent")
    def body(self, obj: WebhookDelivery) -> str:
        return format_html('<pre style="white-space:pre-wrap;max-width:900px">{}</pre>', obj.event.body)

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request, queryset) -> None:
        queued = deliveries_redeliver(queryset)
        skipped = queryset.count() - queued
        self.message_user(request, f"{queued} delivery(ies) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} skipped: their endpoint is disabled.", messages.WARNING)
