"""Background jobs: a thin Celery wrapper around the services that do the work."""
import logging

from celery import shared_task
from django.conf import settings

from .models import Image
from .services import RETRYABLE_ERRORS, UnprocessableImageError, build_variants

logger = logging.getLogger(__name__)


@shared_task(bind=True, ignore_result=True)
def make_variants(self, image_id: int) -> None:
    """Make the variants of one image; retry storage errors with backoff, then mark it failed."""
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        return  # deleted before its turn came: nothing to do
    try:
        build_variants(image)
    except UnprocessableImageError as exc:
        _mark_failed(image_id, exc)
    except RETRYABLE_ERRORS as exc:
        if self.request.retries < settings.IMAGE_TASK_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=settings.IMAGE_TASK_RETRY_DELAY * 2**self.request.retries) from exc
        _mark_failed(image_id, exc)
    except Exception as exc:  # anything unforeseen: record it rather than leave the image pending
        _mark_failed(image_id, exc)


def _mark_failed(image_id: int, exc: Exception) -> None:
    logger.error("Variants of image %s failed", image_id, exc_info=exc)
    Image.objects.filter(pk=image_id).update(processing=Image.Processing.FAILED)
