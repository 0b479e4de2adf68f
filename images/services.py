"""Creating an image, saying what its file is, and making its variants: one place for every way in.

The API's upload, the admin and the management commands call these; `tasks.py` only wraps
`build_variants` for Celery (the pattern of the HackSoft Django styleguide's services, and of Wagtail's
single `_set_image_file_metadata`).
"""
import io
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction

from config.exceptions import STORAGE_ERRORS

from .models import Image, safe_image_filename, variant_name
from .processing import render_variants
from .validators import ALLOWED_FORMATS, sha256_of, validate_image_file

logger = logging.getLogger(__name__)

# Errors worth another try: the store (S3 or disk) failing, not the image itself.
RETRYABLE_ERRORS = (*STORAGE_ERRORS, OSError)


class UnprocessableImageError(Exception):
    """The stored file cannot be turned into variants: trying again would not help."""


def image_file_metadata(file: File) -> dict:
    """Validate an image file and return the Image fields derived from it.

    The file is also given a safe name with the detected format's extension, and that format's
    Content-Type (which S3 stores): the bytes decide, never the client's name or header.
    Raises ValidationError (under no field) when the file is not an acceptable image.
    """
    info = validate_image_file(file)
    fmt = info.format
    file.name = safe_image_filename(file.name or "", fmt.extensions[0], fmt.extensions)
    file.content_type = fmt.mime_type
    return {
        "width": info.width,
        "height": info.height,
        "format": fmt.name,
        "mime_type": fmt.mime_type,
        "size": file.size,
        "checksum": sha256_of(file),
    }


def image_create(*, user, file: File, title: str = "", description: str = "") -> Image:
    """Validate the file, store it with its row and every derived field, and schedule its variants.

    Raises ValidationError with messages under "image", "title" or "description".
    """
    try:
        metadata = image_file_metadata(file)
    except ValidationError as exc:
        raise ValidationError({"image": exc.error_list}) from None
    image = Image(user=user, image=file, title=title, description=description, **metadata)
    image.clean_fields(exclude=["user", "image"])  # the title and description limits, for every way in
    image.save()  # the file first, then the row; a failed INSERT removes the file again
    variants_schedule(image)
    # Inline (no broker) the variants were made as the row committed: show the row as it now is.
    image.refresh_from_db(fields=["variants", "processing"])
    return image


def variants_schedule(image: Image) -> None:
    """Queue the making of the image's variants once its row commits (a worker must be able to read it)."""
    variants_schedule_many([image.pk])


def variants_schedule_many(image_ids: list[int]) -> None:
    """Queue the making of these images' variants once the current transaction commits."""
    from .tasks import make_variants  # the task module imports this one

    # robust: a broker that cannot be reached is logged, and the caller's work still stands (pending).
    transaction.on_commit(lambda: [make_variants.delay(pk) for pk in image_ids], robust=True)


def image_delete(image: Image) -> None:
    """Delete the image's row, and its files once that commits; change nothing while the store is down."""
    # Reach the store before touching the row: when it is down the client gets a 503 and keeps both
    # row and file, instead of a deleted row whose file can no longer be removed.
    image.image.storage.exists(image.image.name)
    image.delete()  # post_delete calls image_files_delete_on_commit (cascades from a user's deletion too)


def image_files_delete_on_commit(image: Image) -> None:
    """Remove the original and its variants after the deleting transaction commits (never if it rolls back)."""
    names = image.stored_names()
    if names:
        storage = image.image.storage
        # robust: a storage failure here is logged (with the key) and never fails the committed deletion.
        transaction.on_commit(lambda: _delete_all(storage, names), robust=True)


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


def image_metadata_backfill(image: Image) -> None:
    """Record the derived fields of a row older than them, from its stored file."""
    with image.image.open("rb") as stored:
        # A File of its own: the metadata names the file it reads, and the row's name must not change.
        fields = image_file_metadata(File(stored, name=stored.name))
    for field, value in fields.items():
        setattr(image, field, value)
    Image.objects.filter(pk=image.pk).update(**fields)


def _delete_all(storage: Storage, names: Iterable[str]) -> None:
    for name in names:
        storage.delete(name)


def _delete_quietly(storage: Storage, names: Iterable[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except RETRYABLE_ERRORS:
            logger.warning("Could not delete %s", name, exc_info=True)
