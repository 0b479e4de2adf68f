"""Background jobs: thin Celery wrappers around the services that do the work."""

import logging
import time

from celery import shared_task
from django.conf import settings

from .direct_uploads import REFUSALS, direct_upload_verify
from .errors import UnprocessableImageError, UploadGone
from .metrics import VARIANT_BUILD_SECONDS
from .models import RETRYABLE_ERRORS, DirectUpload, Image
from .services import build_variants, images_mark_failed
from .sweep import images_sweep

logger = logging.getLogger(__name__)


@shared_task(bind=True, ignore_result=True)
def make_variants(self, image_id: int) -> None:
    """Make the variants of one image; retry store and database errors with backoff, then mark it failed.

    Acknowledged late and delivered again when its worker dies (CELERY_TASK_ACKS_LATE,
    CELERY_TASK_REJECT_ON_WORKER_LOST); build_variants is idempotent, so a second run replaces the first.
    If even marking it failed fails (the database is still down), the image stays pending and the
    sweeper queues it again later. Each run is timed (imageapi_variant_build_seconds) and logged.
    """
    started = time.perf_counter()
    try:
        image = Image.objects.filter(pk=image_id).first()
        if image is None:
            return  # deleted before its turn came: nothing to do
        started = time.perf_counter()
        build_variants(image)
        _built(image_id, "ready", started)
    except UnprocessableImageError as exc:
        _built(image_id, "failed", started)
        _mark_failed(image_id, exc)
    except RETRYABLE_ERRORS as exc:
        if _deleted(image_id):  # its original went with it: nothing to do, nothing to retry
            return
        if self.request.retries < settings.IMAGE_TASK_MAX_RETRIES:
            _built(image_id, "retry", started)
            raise self.retry(exc=exc, countdown=settings.IMAGE_TASK_RETRY_DELAY * 2**self.request.retries) from exc
        _built(image_id, "failed", started)
        _mark_failed(image_id, exc)
    except Exception as exc:  # anything unforeseen: record it rather than leave the image pending
        _built(image_id, "failed", started)
        _mark_failed(image_id, exc)


def _built(image_id: int, outcome: str, started: float) -> None:
    seconds = time.perf_counter() - started
    VARIANT_BUILD_SECONDS.labels(outcome).observe(seconds)
    if outcome == "ready":
        logger.info(
            "Variants of image %s made in %.2f s",
            image_id,
            seconds,
            extra={"image_id": image_id, "duration_ms": round(seconds * 1000, 1)},
        )


@shared_task(ignore_result=True)
def verify_direct_upload(upload_id: str) -> None:
    """Verify a completed direct upload for the API process waiting on it (images.direct_uploads).

    The verdict goes on the upload's row: its image, or the refusal. When the store or the database
    fails, the verdict says "retry" (if it can be written) and the API process verifies itself at once;
    otherwise it stops waiting after IMAGE_DIRECT_UPLOAD_VERIFY_WAIT. Not retried here: a client is waiting.
    """
    try:
        direct_upload_verify(upload_id, answering=False)
    except (UploadGone, *REFUSALS):
        return  # gone meanwhile, or refused: the verdict is on the row
    except RETRYABLE_ERRORS as exc:
        logger.warning("Upload %s could not be verified here: %s", upload_id, exc)
        try:
            DirectUpload.objects.filter(pk=upload_id, image=None).update(verdict={"refused": "retry"})
        except RETRYABLE_ERRORS:
            pass  # the database is down: the API process stops waiting after IMAGE_DIRECT_UPLOAD_VERIFY_WAIT


@shared_task(ignore_result=True)
def sweep_images() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE): queue stuck images again, retry refused deletions."""
    logger.info("Sweep: %s", images_sweep())


def _deleted(image_id: int) -> bool:
    try:
        return not Image.objects.filter(pk=image_id).exists()
    except RETRYABLE_ERRORS:  # the database is down: it cannot tell, so retry as usual
        return False


def _mark_failed(image_id: int, exc: Exception) -> None:
    logger.error("Variants of image %s failed", image_id, exc_info=exc)
    images_mark_failed(Image.objects.filter(pk=image_id))
