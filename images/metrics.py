"""Images in Prometheus: the state of the store of images at scrape time, and how long variants take to make."""

from collections.abc import Iterable

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from .models import DirectUpload, Image

VARIANT_BUILD_SECONDS = Histogram(
    "imageapi_variant_build_seconds",
    "Time to make every variant of one image (decode, resize, encode, store), by outcome: ready, retry, failed.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)


def image_metrics() -> Iterable[Metric]:
    """Images by processing state, how long the oldest pending one has waited, direct uploads still open."""
    now = timezone.now()
    counts = dict(Image.objects.order_by().values_list("processing").annotate(Count("id")))
    images = GaugeMetricFamily("imageapi_images", "Images by processing state.", labels=["processing"])
    for state in Image.Processing.values:
        images.add_metric([state], counts.get(state, 0))
    oldest = Image.objects.filter(processing=Image.Processing.PENDING).aggregate(Min("uploaded_at"))["uploaded_at__min"]
    waiting = GaugeMetricFamily(
        "imageapi_images_pending_oldest_age_seconds",
        "Seconds the oldest image still pending (variants not made) has waited; 0 when none is.",
    )
    waiting.add_metric([], max((now - oldest).total_seconds(), 0) if oldest else 0)
    uploads = GaugeMetricFamily(
        "imageapi_direct_uploads_open", "Direct uploads signed and not completed yet, whose signature still works."
    )
    uploads.add_metric([], DirectUpload.objects.filter(image=None, expires_at__gt=now).count())
    return [images, waiting, uploads]
