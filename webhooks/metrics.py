"""Webhooks in Prometheus, at scrape time: deliveries failing and waiting for a retry or given up, endpoints failing."""

from collections.abc import Iterable

from django.db.models import Count, Q
from prometheus_client.core import GaugeMetricFamily, Metric

from .models import WebhookDelivery, WebhookEndpoint


def webhook_metrics() -> Iterable[Metric]:
    """Deliveries that failed at least once and will be retried, deliveries given up, endpoints failing now."""
    counts = WebhookDelivery.objects.aggregate(
        retrying=Count("id", filter=Q(state=WebhookDelivery.State.PENDING, attempts__gt=0)),
        failed=Count("id", filter=Q(state=WebhookDelivery.State.FAILED)),
    )
    deliveries = GaugeMetricFamily(
        "imageapi_webhook_deliveries_failing",
        "Deliveries whose attempts failed: retrying (pending, to be tried again) or failed (retries used up).",
        labels=["state"],
    )
    for state, count in counts.items():
        deliveries.add_metric([state], count)
    endpoints = GaugeMetricFamily(
        "imageapi_webhook_endpoints_failing", "Enabled endpoints whose deliveries fail since their last success."
    )
    endpoints.add_metric([], WebhookEndpoint.objects.filter(enabled=True, failing_since__isnull=False).count())
    return [deliveries, endpoints]
