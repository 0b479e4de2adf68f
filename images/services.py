"""Creating an image, saying what its file is, and making its variants: one place for every way in.

The API's upload, the admin and the management commands call these; `tasks.py` only wraps
`build_variants` for Celery (the pattern of the HackSoft Django styleguide's services, and of Wagtail's
single `_set_image_file_metadata`).
"""

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q, QuerySet
from PIL import Image as PILImage

from config.background import deferring, in_background
from config.celery import app as celery_app
from config.timing import timed
from config.unavailable import DATABASE_ERRORS

from .errors import DuplicateImage, UnprocessableImageError
from .events import IMAGE_DELETED, IMAGE_FAILED, IMAGE_READY, image_event_send
from .files import delete_quietly, file_row_committed, file_store_uncommitted, files_delete_on_commit
from .models import DirectUpload, Image, StoredFileDeletion, image_upload_to, safe_image_filename
from .processing import render_variants, variant_size
from .quota import quota_check, quota_reserve
from .scrub import Scrubbed, ScrubError, scrub_file
from .storage import image_storage
from .validators import ALLOWED_FORMATS, FORMAT_ALIASES, ImageInfo, validate_image_file

logger = logging.getLogger(__name__)

MAKE_VARIANTS_TASK = "images.tasks.make_variants"


def image_file_metadata(file: File, *, strip: bool | None = None) -> tuple[File, dict]:
    """Validate an image file; return the file to store and the Image fields derived from it.

    The file to store is named safely with the detected format's extension and given that format's
    Content-Type (which S3 stores): the bytes decide, never the client's name or header. With
    IMAGE_STRIP_METADATA (or `strip`) it is the file without its metadata (images/scrub.py: same
    pixels, no GPS or camera data), else the file itself. `checksum` is the SHA-256 of what is stored,
    `upload_checksum` that of the bytes as sent; `width` and `height` are as displayed (EXIF orientation
    applied). Raises ValidationError (under no field) when the file is not an acceptable image.
    """
    with timed("validate"):
        info = validate_image_file(file)
    fmt = info.format
    name = safe_image_filename(file.name or "", fmt.extensions[0], fmt.extensions)
    with timed("scrub"):  # the checksums and the scrub: one pass over the bytes
        scrubbed = _scrubbed(file, info, settings.IMAGE_STRIP_METADATA if strip is None else strip)
    stored = scrubbed.file(file, name)
    stored.name = name
    stored.content_type = fmt.mime_type  # type: ignore[attr-defined]  # django-storages sends it (any File)
    width, height = info.upright_size
    return stored, {
        "width": width,
        "height": height,
        "format": fmt.name,
        "mime_type": fmt.mime_type,
        "size": scrubbed.size,
        "checksum": scrubbed.checksum,
        "upload_checksum": scrubbed.source_checksum,
        "original_filename": name,
    }


def _scrubbed(file: File, info: ImageInfo, strip: bool) -> Scrubbed:
    """The file without its metadata (with `strip`), checked to open as the same image (pixel data untouched)."""
    if not strip:
        return scrub_file(file, info.format.name, strip=False)
    unscrubbable = ValidationError(
        "The image's metadata could not be removed, so it was not stored.", code="unscrubbable"
    )
    try:
        scrubbed = scrub_file(file, info.format.name)
        if scrubbed.unchanged:
            return scrubbed
        with PILImage.open(scrubbed.file(file, file.name or "")) as img:
            found = (FORMAT_ALIASES.get(img.format, img.format), img.size)
    except (ScrubError, OSError, SyntaxError, ValueError):
        logger.warning("Could not strip the metadata of a %s upload", info.format.name, exc_info=True)
        raise unscrubbable from None
    finally:
        file.seek(0)
    if found != (info.format.name, (info.width, info.height)):
        logger.error("Stripping the metadata of a %s upload changed the image: %s", info.format.name, found)
        raise unscrubbable
    return scrubbed


@dataclass
class PreparedImage:
    """An upload that passed every check (image_prepare): its unsaved row with every derived field, and the file to
    store; or, with IMAGE_DUPLICATES=reuse, the image that already has these bytes (`existing`), nothing to store."""

    image: Image | None = None
    file: File | None = None
    existing: Image | None = None


def image_prepare(
    *,
    user,
    file: File,
    title: str = "",
    description: str = "",
    duplicates: str | None = None,
    completing: DirectUpload | None = None,
) -> PreparedImage:
    """Check an upload and derive its row from its bytes, storing nothing: what a serializer's validation calls.

    The file's checks, naming, Content-Type and metadata stripping (image_file_metadata); the user's duplicates by
    `duplicates` (default IMAGE_DUPLICATES: "allow" a new image; "reuse" the existing image, answered as
    `existing`; "refuse" raises DuplicateImage); the title and description limits; a first look at the quota
    (image_insert decides). `completing`: the direct upload whose bytes these are (its reservation is the image's).
    Raises ValidationError under "image", "title" or "description", DuplicateImage or QuotaExceeded.
    """
    try:
        stored, metadata = image_file_metadata(file)
    except ValidationError as exc:
        raise ValidationError({"image": exc.error_list}) from None
    policy = settings.IMAGE_DUPLICATES if duplicates is None else duplicates
    if policy != "allow":
        with timed("duplicates"):
            existing = image_find_duplicate(user, metadata["checksum"], metadata["upload_checksum"])
        if existing is not None and policy == "reuse":
            return PreparedImage(existing=existing)
        if existing is not None:
            raise DuplicateImage(existing, policy)
    image = Image(user=user, title=title, description=description, **metadata)
    image.clean_fields(exclude=["user", "image"])  # the title and description limits, for every way in
    with timed("quota"):
        quota_check(user, image.size, completing=completing)  # before storing anything
    return PreparedImage(image=image, file=stored)


def image_store(prepared: PreparedImage, *, on_created: Callable[[int], None] | None = None) -> Image:
    """Store a prepared image's file, then insert its row (image_insert): the file first, outside the row lock."""
    image, file = prepared.image, prepared.file
    assert image is not None and file is not None, "nothing to store: IMAGE_DUPLICATES=reuse found `existing`"
    image.image = file_store_uncommitted(image.image.storage, image_upload_to(image, file.name or ""), file)
    return image_insert(image, on_created)


def image_create(*, user, file: File, on_created: Callable[[int], None] | None = None, **fields) -> Image:
    """Prepare and store an image in one call (the admin, commands): the image that already has these bytes with
    IMAGE_DUPLICATES=reuse. `fields`: image_prepare's title, description and duplicates."""
    prepared = image_prepare(user=user, file=file, **fields)
    return prepared.existing or image_store(prepared, on_created=on_created)


def image_insert(image: Image, on_created: Callable[[int], None] | None = None) -> Image:
    """Insert the row of an image whose file is stored, within its owner's quota; start its variants.

    `on_created` is called with the new image's id in the transaction that inserts it (an Idempotency-Key is
    recorded there). If the row cannot be inserted (over quota, the database failing), the stored file is deleted
    (or recorded for the sweeper). Direct uploads do the same in images.direct_uploads, under their row lock.
    """
    if variants_in_process():
        image.processing_queued_at = None  # no broker holds its job: if this process dies first, the sweeper makes them
    try:
        with timed("insert"), transaction.atomic():
            with timed("quota"):
                quota_reserve(image.user, image.size, image=True)  # two uploads racing for the last bytes wait here
            image.save()
            file_row_committed(image.image.name or "")
            if on_created is not None:
                on_created(image.pk)
    except BaseException:
        StoredFileDeletion.objects.delete_files(image.image.storage, [image.image.name or ""])
        raise
    return image_variants_start(image)


def image_variants_start(image: Image) -> Image:
    """Schedule the variants of an image whose row was just inserted, and return it as it now is."""
    variants_schedule(image)
    if not celery_app.conf.task_always_eager or (settings.IMAGE_VARIANTS_IN_BACKGROUND and deferring()):
        return image  # queued, or to be made after the answer: pending, as the row says
    # Made inline (no broker) as the row committed: show the row as it now is. The row is committed, so a
    # database failing now must not turn the answer into an error.
    try:
        with timed("readback"):
            image.refresh_from_db(fields=["variants", "variant_sizes", "processing"])
    except DATABASE_ERRORS:
        logger.warning("Image %s stored; its state could not be read back", image.pk, exc_info=True)
    return image


def image_find_duplicate(user, *checksums: str) -> Image | None:
    """The user's oldest image whose stored or uploaded bytes have one of these SHA-256 checksums."""
    wanted = [value for value in checksums if value]
    if not wanted:
        return None
    return (
        Image.objects.filter(Q(checksum__in=wanted) | Q(upload_checksum__in=wanted), user=user).order_by("pk").first()
    )


def variants_schedule(image: Image) -> None:
    """Queue the making of the image's variants once its row commits (a worker must be able to read it)."""
    variants_schedule_many([image.pk])


def variants_schedule_many(image_ids: list[int]) -> None:
    """Queue the making of these images' variants once the current transaction commits.

    A broker that cannot be reached is logged and the caller's work still stands: the images stay
    pending, and the sweeper (sweep_images) queues them again later.
    """
    if variants_in_process():
        transaction.on_commit(lambda: variants_in_background(image_ids), robust=True)
        return

    def publish() -> None:
        with timed("publish"):
            for done, pk in enumerate(image_ids):
                try:
                    make_variants(pk)
                except Exception as exc:  # noqa: BLE001 (the broker down, or its connection broken in any way)
                    logger.error("Could not queue the variants of image %s (the sweeper will): %r", pk, exc)
                    variants_not_queued(image_ids[done:])  # the broker is down: the rest would fail the same way
                    return

    transaction.on_commit(publish, robust=True)


def make_variants(image_id: int) -> None:
    """Send images.tasks.make_variants (run inline without a broker). Called by name, as Celery allows: the task
    module wraps this one, so this one cannot import it (the app's ready() registers it)."""
    celery_app.signature(MAKE_VARIANTS_TASK, args=(image_id,)).delay()


def variants_in_process() -> bool:
    """Whether variants are made by the API process after its answer (no broker, IMAGE_VARIANTS_IN_BACKGROUND)."""
    return celery_app.conf.task_always_eager and settings.IMAGE_VARIANTS_IN_BACKGROUND


def variants_in_background(image_ids: list[int]) -> None:
    """No broker: make these images' variants on this process's background thread once the answer has been sent
    (at once outside a request); those it has no room for are left to the sweeper."""
    for done, pk in enumerate(image_ids):
        if not in_background(make_variants, pk):  # runs the task (inline: no broker) on that thread
            logger.warning("No room to make the variants of images %s now (the sweeper will)", image_ids[done:])
            variants_not_queued(image_ids[done:])
            return


def variants_not_queued(image_ids: list[int]) -> None:
    """Say that these images' jobs never reached the broker, so that the sweeper's next run queues them."""
    try:
        Image.objects.filter(pk__in=image_ids, processing=Image.Processing.PENDING).update(processing_queued_at=None)
    except DATABASE_ERRORS:  # down as well: IMAGE_PENDING_TIMEOUT brings them back
        logger.warning("Could not record that images %s are not queued", image_ids, exc_info=True)


def image_delete(image: Image) -> None:
    """Delete the image's row, and its files once that commits; change nothing while the store is down."""
    # Reach the store before touching the row: when it is down the client gets a 503 and keeps both
    # row and file, instead of a deleted row whose file can no longer be removed.
    image.image.storage.exists(image.image.name or "")
    with transaction.atomic():
        # A write first: the row's lock (a variants job waits, then finds it gone) and, on SQLite, the database's
        # write lock at once, so that a concurrent writer makes this wait rather than fail with "database is locked".
        Image.objects.filter(pk=image.pk).update(processing=F("processing"))
        image_event_send(IMAGE_DELETED, image)  # recorded with the deletion, or not at all
        image.delete()  # post_delete calls image_files_delete_on_commit (cascades from a user's deletion too)


def user_images_store_check(user) -> None:
    """Reach the store that holds the user's images (raising its error when it is down); nothing without images."""
    image = Image.objects.filter(user=user).only("image").first()
    if image is not None:
        image.image.storage.exists(image.image.name or "")


def image_files_delete_on_commit(image: Image) -> None:
    """Remove the original and its variants after the deleting transaction commits (never if it rolls back).

    They are recorded in that transaction: if the process dies before they are gone, or the store refuses
    (it is down), the sweeper deletes them.
    """
    names = image.stored_names()
    if names:
        files_delete_on_commit(image.image.storage, names)


def build_variants(image: Image) -> None:
    """Render, store and record every configured variant of the image, replacing older ones.

    Idempotent: each variant has one name per image (Image.variant_names), written over whatever an
    earlier run left there, so a task delivered twice, or after a crash, replaces and never duplicates.
    A deletion racing this never leaves a variant behind: the deletion removes those names too (whether
    recorded or not), and a run that finds its row gone after writing removes what it wrote.
    """
    variants_store(image, variants_render(image))


def variants_render(image: Image) -> dict[str, bytes]:
    """Read the image's original and encode each configured variant (the slow part, touching no row)."""
    fmt = ALLOWED_FORMATS[settings.IMAGE_VARIANT_FORMAT]
    with image.image.open("rb") as original:
        data = original.read()  # storage errors surface here (at most IMAGE_MAX_UPLOAD_SIZE bytes)
    try:
        return render_variants(
            File(io.BytesIO(data)),
            settings.IMAGE_VARIANTS,
            fmt.name,
            settings.IMAGE_VARIANT_QUALITY,
            webp_method=settings.IMAGE_VARIANT_WEBP_METHOD,
        )
    except Exception as exc:
        raise UnprocessableImageError(f"{image.image.name}: {exc}") from exc


def variants_store(image: Image, rendered: dict[str, bytes]) -> None:
    """Write rendered variants under their names and record them, unless the image was deleted meanwhile."""
    fmt = ALLOWED_FORMATS[settings.IMAGE_VARIANT_FORMAT]
    storage = image_storage()  # the image field's own (the default storage)
    names = image.variant_names()
    sizes = {variant: variant_size(data) for variant, data in rendered.items()}  # for srcset
    stored: dict[str, str] = {}
    earlier = set(image.variants.values())
    # Each written over whatever is there in one step (a second run of the job, after a crash or delivered twice,
    # never leaves a ready image without its file, even for a moment). Not deleted if this run fails: the names
    # are the image's own (stored_names), and the next run writes over them.
    for variant, data in rendered.items():
        content = ContentFile(data)
        content.content_type = fmt.mime_type  # type: ignore[attr-defined]  # django-storages sends it
        stored[variant] = storage.save_replacing(names[variant], content)
    variants_bytes = sum(len(data) for data in rendered.values())  # recorded; not counted in the quota
    fields = {"variants": stored, "variant_sizes": sizes, "variants_bytes": variants_bytes}
    with transaction.atomic():
        row = Image.objects.filter(pk=image.pk)
        # Announced when it becomes ready, not again when a job delivered twice finds it ready already.
        became_ready = row.exclude(processing=Image.Processing.READY).update(
            **fields, processing=Image.Processing.READY
        )
        found = became_ready or row.update(**fields)
        if found:
            for field, value in fields.items():
                setattr(image, field, value)
            image.processing = Image.Processing.READY
        if became_ready:
            image_event_send(IMAGE_READY, image)
    if not found:  # the image was deleted meanwhile: its variants must not outlive it
        StoredFileDeletion.objects.delete_files(storage, stored.values())
        return
    delete_quietly(storage, earlier - set(stored.values()))


def images_mark_failed(images: QuerySet) -> int:
    """Mark these images failed (those not failed already), each announced in its own transaction; return how many."""
    failed = 0
    for pk in images.exclude(processing=Image.Processing.FAILED).values_list("pk", flat=True):
        with transaction.atomic():
            # The write first (no read before it: on SQLite a transaction that reads, then writes, can fail).
            if (
                Image.objects.filter(pk=pk)
                .exclude(processing=Image.Processing.FAILED)
                .update(processing=Image.Processing.FAILED)
            ):
                image_event_send(IMAGE_FAILED, Image.objects.select_related("user").get(pk=pk))
                failed += 1
    return failed


def image_metadata_backfill(image: Image) -> None:
    """Record the derived fields of a row again from its stored file, which is left as it is.

    For rows older than a field: metadata, upright width and height. The client's filename
    and the checksum of the bytes as sent are kept where recorded: the stored file cannot tell them.
    """
    with image.image.open("rb") as stored:
        # A File of its own: the metadata names the file it reads, and the row's name must not change.
        _, fields = image_file_metadata(File(stored, name=stored.name), strip=False)
    del fields["original_filename"]
    if image.upload_checksum:
        del fields["upload_checksum"]
    for field, value in fields.items():
        setattr(image, field, value)
    Image.objects.filter(pk=image.pk).update(**fields)
