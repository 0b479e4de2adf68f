"""An uploaded image and where its file is stored."""

import logging
import re
import unicodedata
import uuid
from collections.abc import Iterable
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import Storage
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from config.unavailable import DATABASE_ERRORS, STORAGE_ERRORS

from .validators import ALLOWED_FORMATS, validate_description_length

logger = logging.getLogger(__name__)

# Errors worth another try: the store (S3 or disk) or the database failing, not the image itself.
RETRYABLE_ERRORS = (*STORAGE_ERRORS, OSError, *DATABASE_ERRORS)

# The client's part of the stored name, in UTF-8 bytes: keeps every key far inside the 255-character
# column and every local file name inside the usual 255-byte limit of filesystems.
FILENAME_MAX_BYTES = 120
FALLBACK_STEM = "image"


def safe_image_filename(filename: str, extension: str, keep_extensions: tuple[str, ...] = ()) -> str:
    """Reduce a client's filename to a safe base name with the given extension.

    Path parts, dots, control characters, markup and anything but letters, digits, "-" and "_" go;
    letters of any script stay. The client's own extension is kept when it is one of `keep_extensions`
    (so "photo.jpeg" stays .jpeg), otherwise `extension` replaces it.
    """
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKC", base)
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    if suffix.lower() in keep_extensions:
        extension = suffix.lower()
    stem = re.sub(r"[^\w-]+", "_", stem).strip("_-") or FALLBACK_STEM
    budget = FILENAME_MAX_BYTES - len(extension.encode()) - 1
    stem = stem.encode()[:budget].decode("utf-8", "ignore").rstrip("_-") or FALLBACK_STEM
    return f"{stem}.{extension}"


def image_upload_to(instance: "Image", filename: str) -> str:
    """Store as images/{user_id}/{uuid}_{filename} (the spec's layout); the uuid makes keys unguessable."""
    return _stored_name("images", instance.user_id, filename)


# Where direct uploads arrive until they are verified (then they move under images/): whatever sits there
# without an open upload (a POST after completion, while the signed policy still works) is swept by prefix.
DIRECT_UPLOAD_PREFIX = "uploads/"


def direct_upload_key(user_id: int, filename: str) -> str:
    """The key a direct upload's file is POSTed to: uploads/{user_id}/{uuid}_{filename}."""
    return _stored_name(DIRECT_UPLOAD_PREFIX.rstrip("/"), user_id, filename)


def _stored_name(folder: str, user_id: int, filename: str) -> str:
    # Uploads arrive already named by services.image_file_metadata; this keeps any other caller safe as well.
    suffix = re.sub(r"[^a-z0-9]", "", PurePosixPath(filename.replace("\\", "/")).suffix.lower())[:8]
    name = safe_image_filename(filename, suffix or "bin", (suffix,))
    return f"{folder}/{user_id}/{uuid.uuid4()}_{name}"


def variant_name(original: str, variant: str, extension: str) -> str:
    """Name a variant beside its original: images/1/{uuid}_cat.jpg -> images/1/{uuid}_cat.thumbnail.webp."""
    return f"{original.rpartition('.')[0] or original}.{variant}.{extension}"


class Image(models.Model):
    """An image file that belongs to one user, with what its bytes are and its smaller variants."""

    class Processing(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    image = models.FileField(upload_to=image_upload_to, max_length=255)
    title = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True, validators=[validate_description_length])
    # What the accepted bytes are, written once where the file is accepted (services.image_file_metadata).
    width = models.PositiveIntegerField(editable=False, null=True)
    height = models.PositiveIntegerField(editable=False, null=True)
    format = models.CharField(max_length=10, editable=False, blank=True, help_text='As Pillow names it, e.g. "JPEG".')
    mime_type = models.CharField(max_length=50, editable=False, blank=True)
    size = models.PositiveBigIntegerField(editable=False, default=0, help_text="Size of the file in bytes.")
    checksum = models.CharField(
        max_length=64, editable=False, blank=True, help_text="SHA-256 of the stored file, in hex."
    )
    # The stored file is the upload without its metadata: a client looks its own copy up by this.
    upload_checksum = models.CharField(
        max_length=64, editable=False, blank=True, help_text="SHA-256 of the bytes as uploaded, in hex."
    )
    original_filename = models.CharField(
        max_length=255,
        editable=False,
        blank=True,
        help_text="The client's filename, made safe: downloads are saved under it.",
    )
    # Variant name -> storage name, filled in the background (services.build_variants).
    variants = models.JSONField(editable=False, default=dict, blank=True)
    # Variant name -> [width, height] of what was made, for srcset.
    variant_sizes = models.JSONField(editable=False, default=dict, blank=True)
    # Their bytes together: what the service stores beside the original (the quota counts originals only:
    # images.quota).
    variants_bytes = models.PositiveBigIntegerField(editable=False, default=0)
    processing = models.CharField(
        max_length=10, choices=Processing.choices, default=Processing.PENDING, editable=False, db_index=True
    )
    # When its variants were last queued (null: the broker could not be reached, so the job is not queued yet),
    # and how often the sweeper queued them again because they took too long (sweep_images).
    processing_queued_at = models.DateTimeField(default=timezone.now, null=True, editable=False)
    processing_requeues = models.PositiveSmallIntegerField(default=0, editable=False)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-uploaded_at", "-id"], name="images_user_newest_idx"),
            # ?checksum= and IMAGE_DUPLICATES look a user's image up by either checksum.
            models.Index(fields=["user", "checksum"], name="images_user_checksum_idx"),
            models.Index(fields=["user", "upload_checksum"], name="images_user_upload_sum_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.image.name or ""

    def save(self, *args, **kwargs) -> None:
        """Save the row; if writing it fails, remove the file this save just stored."""
        storing_new_file = bool(self.image) and not _stored(self.image)
        if not storing_new_file:  # an edit of the row alone: nothing stored to clean up
            super().save(*args, **kwargs)
            return
        try:
            with transaction.atomic(using=kwargs.get("using")):
                super().save(*args, **kwargs)
        except BaseException:
            if _stored(self.image) and self.image.name:
                # Deleted, or recorded to try again later.
                StoredFileDeletion.objects.delete_files(self.image.storage, [self.image.name])
            raise

    def stored_names(self) -> list[str]:
        """Every storage name this image owns or will own: the original, its recorded variants, and where
        each configured variant is written (a task running meanwhile may not have recorded it yet)."""
        original = self.image.name
        if not original:
            return []
        names = [original, *self.variants.values(), *self.variant_names().values()]
        return list(dict.fromkeys(names))

    def variant_names(self) -> dict[str, str]:
        """Where each configured variant of this image is written: always the same name for the same image."""
        extension = ALLOWED_FORMATS[settings.IMAGE_VARIANT_FORMAT].extensions[0]
        original = self.image.name or ""
        return {variant: variant_name(original, variant, extension) for variant in settings.IMAGE_VARIANTS}


class StoredFileDeletionManager(models.Manager["StoredFileDeletion"]):
    def delete_files(self, storage: Storage, names: Iterable[str]) -> None:
        """Delete stored files and forget their records; record the ones the store could not delete, to try again."""
        deleted: list[str] = []
        failed: dict[str, str] = {}
        for name in names:
            try:
                storage.delete(name)
            except RETRYABLE_ERRORS as exc:
                failed[name] = str(exc)
            else:
                deleted.append(name)
        try:
            if deleted:
                self.filter(name__in=deleted).delete()
            if failed:
                self.bulk_create([StoredFileDeletion(name=name) for name in failed], ignore_conflicts=True)
                for name, error in failed.items():
                    self.filter(name=name).update(
                        attempts=F("attempts") + 1, last_error=error, not_before=timezone.now()
                    )
        except DATABASE_ERRORS:  # down as well: the sweeper (or `check_storage --fix`, for orphans) finishes
            logger.error("Could not record the deletion of %s", ", ".join([*deleted, *failed]), exc_info=True)
            return
        if failed:
            logger.warning("Could not delete %s; recorded to try again", ", ".join(failed))


def _stored(file: models.fields.files.FieldFile) -> bool:
    """Whether the field's file is in the store already (Django's FieldFile flag, which the stubs omit)."""
    return file._committed  # type: ignore[attr-defined]


class StoredFileDeletion(models.Model):
    """A stored file that must go, recorded in the database so that no crash leaves it behind.

    Three kinds, one sweeper (services.deletions_retry): the files of a row just deleted (recorded in the
    deleting transaction, removed once it commits); files the store refused to delete (it was down); and a
    file just stored for a row not committed yet (recorded before the file is written, unrecorded by the
    transaction that inserts its row): if its process dies in between, the file goes after `not_before`.
    """

    name = models.CharField(max_length=255, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    not_before = models.DateTimeField(default=timezone.now, help_text="The sweeper leaves the file alone until then.")
    last_error = models.TextField(blank=True)

    objects = StoredFileDeletionManager()

    def __str__(self) -> str:
        return self.name


class DirectUpload(models.Model):
    """An upload signed for the client to send straight to the store, until its bytes are verified.

    Never an Image in a half state: the Image is created only when `complete` has verified the object,
    and then linked here, so completing again answers the same image.
    """

    class Method(models.TextChoices):
        """How the client sends the file: a form POST with signed fields, or a PUT of the bare bytes."""

        POST = "POST", "POST"
        PUT = "PUT", "PUT"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="direct_uploads")
    # The one key the signed policy allows; the verified file moves to a key of its own (services).
    key = models.CharField(max_length=255, unique=True)
    filename = models.CharField(max_length=255, help_text="The client's filename, as declared.")
    size = models.PositiveBigIntegerField(help_text="The size the client declared, in bytes.")
    title = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True, validators=[validate_description_length])
    method = models.CharField(max_length=4, choices=Method, default=Method.POST)
    # The Content-Type the client sends, as signed: a PUT's signature covers it exactly (and its exact size).
    content_type = models.CharField(max_length=100)
    # Staff uploading in the admin mean to add what they drop: IMAGE_DUPLICATES governs the API's uploads only.
    allow_duplicates = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="When the signed policy stops being accepted.")
    image = models.OneToOneField(
        Image, on_delete=models.CASCADE, null=True, blank=True, editable=False, related_name="direct_upload"
    )
    # A verification's refusal as a worker recorded it for the API process waiting on it (images.direct_uploads):
    # a final one (invalid bytes, a duplicate, expired) is answered once and the row deleted; a passing one (not
    # received yet, over quota) is cleared by the next completion.
    verdict = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        # The sweeper's question: pending uploads past their expiry.
        indexes = [
            models.Index(fields=["expires_at"], name="images_upload_expires_idx", condition=models.Q(image=None))
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def expired(self) -> bool:
        return timezone.now() >= self.expires_at
