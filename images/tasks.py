"""Background jobs: thin Celery wrappers around the services that do the work."""
import logging

from celery import shared_task
from django.conf import settings

from .models import Image
from .services import RETRYABLE_ERRORS, UnprocessableImageError, build_variants, images_sweep

logger = logging.getLogger(__name__)


@shared_task(bind=True, ignore_result=True)
def make_variants(self, image_id: int) -> None:
    """Make the variants of one image; retry store and database errors with backoff, then mark it failed.

    Acknowledged late and delivered again when its worker dies (CELERY_TASK_ACKS_LATE,
    CELERY_TASK_REJECT_ON_WORKER_LOST); build_variants is idempotent, so a second run replaces the first.
    If even marking it failed fails (the database is still down), the image stays pending and the
    sweeper queues it again later.
    """
    try:
        image = Image.objects.filter(pk=image_id).first()
        if image is None:
            return  # deleted before its turn came: nothing to do
        build_variants(image)
    except UnprocessableImageError as exc:
        _mark_failed(image_id, exc)
    except RETRYABLE_ERRORS as exc:
        if _deleted(image_id):  # its original went with it: nothing to do, nothing to retry
            return
        if self.request.retries < settings.IMAGE_TASK_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=settings.IMAGE_TASK_RETRY_DELAY * 2**self.request.retries) from exc
        _mark_failed(image_id, exc)
    except Exception as exc:  # anything unforeseen: record it rather than leave the image pending
        _mark_failed(image_id, exc)


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
    Image.objects.filter(pk=image_id).update(processing=Image.Processing.FAILED)
