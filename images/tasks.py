"""Background jobs: the variants of an image, made after its upload commits."""
import io
import logging

from celery import shared_task
from django.conf import settings
from django.core.files.base import ContentFile

from .exceptions import STORAGE_ERRORS
from .models import Image, variant_name
from .processing import render_variants
from .validators import ALLOWED_FORMATS

logger = logging.getLogger(__name__)

# Errors worth another try: the store (S3 or disk) failing, not the image itself.
RETRYABLE_ERRORS = (*STORAGE_ERRORS, OSError)


class UnprocessableImageError(Exception):
    """The stored file cannot be turned into variants: trying again would not help."""


def build_variants(image: Image) -> None:
    """Render, store and record every configured variant of the image, replacing older ones."""
    fmt = ALLOWED_FORMATS[settings.IMAGE_VARIANT_FORMAT]
    storage = image.image.storage
    with image.image.open("rb") as original:
        data = original.read()  # storage errors surface here (at most IMAGE_MAX_UPLOAD_SIZE bytes)
    try:
        rendered = render_variants(
            io.BytesIO(data), settings.IMAGE_VARIANTS, fmt.name, settings.IMAGE_VARIANT_QUALITY
        )
    except Exception as exc:
        raise UnprocessableImageError(f"{image.image.name}: {exc}") from exc

    stored: dict[str, str] = {}
    try:
        for name, data in rendered.items():
            content = ContentFile(data)
            content.content_type = fmt.mime_type
            stored[name] = storage.save(variant_name(image.image.name, name, fmt.extensions[0]), content)
        found = Image.objects.filter(pk=image.pk).update(variants=stored, processing=Image.Processing.READY)
    except BaseException:
        _delete_quietly(storage, stored.values())
        raise
    if not found:  # the image was deleted meanwhile: its variants must not outlive it
        _delete_quietly(storage, stored.values())
        return
    _delete_quietly(storage, set(image.variants.values()) - set(stored.values()))
    image.variants, image.processing = stored, Image.Processing.READY


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


def _delete_quietly(storage, names) -> None:
    for name in names:
        try:
            storage.delete(name)
        except RETRYABLE_ERRORS:
            logger.warning("Could not delete %s", name, exc_info=True)
