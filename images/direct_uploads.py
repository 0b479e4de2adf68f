"""Direct uploads: the service signs before and verifies after; the store carries the bytes.

1. `direct_upload_start` records a DirectUpload and `direct_upload_signature` signs a POST or a PUT of its one
   key: S3's presigned POST or PUT (the store enforces the policy, or the signed headers), or on local storage
   the same signed with django.core.signing and enforced by `local_upload_receive` and `local_put_receive` (the
   same requests, so one client works with both). The storage classes sign (images.storage).
2. The client POSTs `fields` and the file to `url`, or PUTs the bytes to `url` with `headers`.
3. `direct_upload_complete` reads what arrived and holds it to the proxied upload's rules through the
   same services (`image_file_metadata`, the quota, the duplicates): the Image exists only once its bytes are
   verified, at a key of its own; the pending key goes once the Image commits.

Pending uploads left behind are removed with their object by `direct_uploads_sweep` (sweep_images).
"""

import hashlib
import logging
import mimetypes
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.celery import app as celery_app
from config.unavailable import BROKER_ERRORS

from .errors import (
    CompletionsBusy,
    DuplicateImage,
    IncompleteBody,
    LengthRequired,
    PolicyRefused,
    QuotaExceeded,
    UploadExpired,
    UploadGone,
    UploadNotReceived,
)
from .events import UPLOAD_COMPLETED, image_event_send
from .files import file_record_uncommitted, file_row_committed, file_store_uncommitted, files_delete_on_commit
from .models import DIRECT_UPLOAD_PREFIX, DirectUpload, Image, StoredFileDeletion, direct_upload_key, image_upload_to
from .quota import Usage, quota_reserve
from .services import image_prepare, image_variants_start, variants_in_process
from .storage import direct_upload_policy, direct_upload_put_is_signed, image_storage

logger = logging.getLogger(__name__)

# images.tasks.verify_direct_upload, sent by name: the task module wraps this one (the app's ready() registers it).
VERIFY_TASK = "images.tasks.verify_direct_upload"


# --- 1. Sign ---------------------------------------------------------------------------------------


def direct_upload_start(
    *,
    user,
    filename: str,
    size: int,
    method: str = DirectUpload.Method.POST,
    content_type: str = "",
    title: str = "",
    description: str = "",
    allow_duplicates: bool = False,
    on_created: Callable[[uuid.UUID], None] | None = None,
) -> DirectUpload:
    """Record a pending upload of `size` bytes, sent by POST or PUT (direct_upload_signature signs it).

    A POST's policy takes at most `size` bytes and a PUT's signature exactly `size`, sent as `content_type` (by
    default the type of the filename's extension), and the upload counts at that size against the quota until
    it is completed or swept. Raises QuotaExceeded when the declared size would take
    the user over their quota. `on_created` is called with the upload's id in the transaction that records it
    (an Idempotency-Key is recorded there).
    """
    upload = DirectUpload(
        user=user,
        filename=filename,
        size=size,
        method=method,
        content_type=content_type or declared_content_type(filename),
        title=title,
        description=description,
        allow_duplicates=allow_duplicates,
        expires_at=timezone.now() + timedelta(seconds=settings.IMAGE_DIRECT_UPLOAD_EXPIRE),
    )
    upload.key = direct_upload_key(user.pk, filename)  # uploads/{user_id}/{uuid}_{safe name}
    with transaction.atomic():
        quota_reserve(user, size, image=False)  # two signings cannot both take the last free bytes
        upload.save()
        if on_created is not None:
            on_created(upload.pk)
    return upload


def direct_upload_signature(upload: DirectUpload) -> dict:
    """Sign the upload's one key until it expires: {"url", "fields"} for a POST, {"url", "headers"} for a PUT.

    The store's own signature (S3's presigned POST or PUT), or the service's on local storage, whose `url` is a
    path that the caller makes absolute.
    """
    storage = image_storage()  # either store signs both ways
    sign = storage.direct_upload_put if upload.method == DirectUpload.Method.PUT else storage.direct_upload_post
    return sign(
        upload.key,
        content_type=upload.content_type,
        size=upload.size,
        expires_at=upload.expires_at,
        tagging=settings.IMAGE_DIRECT_UPLOAD_TAGGING,
    )


def declared_content_type(filename: str) -> str:
    """The Content-Type a client sends for this file when it names none: its extension's, if an image's.

    The store only checks it (the POST's policy: image/ at the start; the PUT's signature: exactly it); on
    completion the object gets the type its bytes show.
    """
    guessed, _ = mimetypes.guess_type(filename)
    return guessed if guessed and guessed.startswith("image/") else "image/octet-stream"


# --- 2. The local store's side of the POST and the PUT (S3 does this itself) -----------------------------------------


def local_upload_receive(*, key: str, content_type: str, policy: str, file: File | None) -> None:
    """Store a POSTed file at its key if the signed policy allows it, as S3 would; raise otherwise.

    PolicyRefused (403) for a bad signature, an expired policy, another key, a Content-Type that is not
    image/*, or an upload no longer pending; ValidationError under "file" for a missing file or one
    outside 1 byte to the policy's maximum (S3's EntityTooSmall/EntityTooLarge are 400s too).
    """
    try:
        signed = direct_upload_policy(policy)
    except signing.BadSignature:
        raise PolicyRefused("The policy's signature does not match.") from None
    if time.time() >= signed["expires"]:
        raise PolicyRefused("Policy expired.")
    if key != signed["key"]:
        raise PolicyRefused("Policy condition failed: key.")
    if not content_type.startswith("image/"):
        raise PolicyRefused("Policy condition failed: Content-Type must start with image/.")
    if file is None:
        raise ValidationError({"file": ["No file was submitted."]})
    if not 1 <= file.size <= signed["max"]:
        raise ValidationError({"file": [f"The file must be 1 to {signed['max']} bytes (content-length-range)."]})
    _local_store(key, file)


def local_put_receive(
    *,
    key: str,
    expires: str,
    length: str,
    signed_type: str,
    signature: str,
    content_length: str,
    content_type: str,
    body,
) -> str:
    """Store a PUT's body at its key if its signed URL allows it, as S3 would; return its ETag; raise otherwise.

    The URL's signature covers the key, the length, the type and the expiry; the request must then carry that
    Content-Length and that Content-Type. PolicyRefused (403) for a signature that does not match (another key,
    an altered URL), an expired URL, another Content-Length or Content-Type, or an upload no longer pending;
    LengthRequired (411) without a Content-Length; IncompleteBody (400) when fewer bytes arrive. `body` is read
    as a stream, Content-Length bytes at most.
    """
    if not (expires.isdigit() and length.isdigit()) or not signature:
        raise PolicyRefused("The URL is not signed: expires, length, type and signature are needed.")
    if not direct_upload_put_is_signed(key, int(length), signed_type, int(expires), signature):
        raise PolicyRefused("The signature does not match this key, length, type and expiry.")
    if time.time() >= int(expires):
        raise PolicyRefused("Request has expired.")
    if not content_length.isdigit():
        raise LengthRequired()
    if int(content_length) != int(length):
        raise PolicyRefused(f"Content-Length must be {length} bytes, as signed.")
    if content_type != signed_type:
        raise PolicyRefused(f"Content-Type must be {signed_type}, as signed.")
    _open_upload_check(key)  # before reading a body that would be refused
    size, digest = int(length), hashlib.md5(usedforsecurity=False)  # S3's ETag of a single PUT
    with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as received:
        while received.tell() < size:
            chunk = body.read(min(64 * 1024, size - received.tell()))
            if not chunk:
                raise IncompleteBody()
            digest.update(chunk)
            received.write(chunk)
        received.seek(0)
        _local_store(key, File(received, name=key.rsplit("/", 1)[-1]))
    return f'"{digest.hexdigest()}"'


def _open_upload_check(key: str) -> None:
    """Raise PolicyRefused unless an upload is still open at this key (S3 cannot revoke a signature; we can)."""
    upload = DirectUpload.objects.filter(key=key, image=None).first()
    if upload is None or (upload.verdict and upload.verdict["refused"] in FINAL_VERDICTS):
        raise PolicyRefused("This upload is no longer open.")


def _local_store(key: str, file: File) -> None:
    """Store a direct upload's file at its key, replacing what is there (as S3 does), while the upload is open."""
    _open_upload_check(key)
    storage = image_storage()
    storage.delete(key)  # S3 replaces an object sent twice; the local store does the same
    stored = storage.save(key, file)
    if stored != key:  # a concurrent upload of the same key got there first: keep that one
        storage.delete(stored)


# --- 3. Complete ------------------------------------------------------------------------------------


# What a verification can refuse with; each has a verdict (below) so that a worker can tell the API process.
REFUSALS = (ValidationError, DuplicateImage, QuotaExceeded, UploadExpired, UploadNotReceived)
# Verdicts that end the upload: answered once, then the row goes (its object went when it was refused).
FINAL_VERDICTS = frozenset({"invalid", "duplicate", "expired"})

# Completions this process verifies or waits on at once (each holds a gunicorn thread), by the value of
# IMAGE_DIRECT_UPLOAD_CONCURRENCY (read when a completion comes, as every setting is).
_completion_slots: dict[int, threading.BoundedSemaphore] = {}
_completion_slots_lock = threading.Lock()


def direct_upload_complete(upload: DirectUpload) -> Image:
    """Verify what arrived at the upload's key like a proxied upload, copy it to its image's key, create the Image.

    A Celery worker verifies when one is configured (IMAGE_DIRECT_UPLOAD_VERIFY_IN_WORKER): this process queues
    the job and waits for the worker's verdict on the upload's row, so its CPU is not spent decoding. With the
    broker down, or no verdict within IMAGE_DIRECT_UPLOAD_VERIFY_WAIT seconds, it verifies here. At most
    IMAGE_DIRECT_UPLOAD_CONCURRENCY completions wait or verify in a process at once; more raise CompletionsBusy
    (503), so that a burst of completions never holds every thread that other requests need.

    Idempotent: an upload already completed answers its image. Raises ValidationError under "image" or
    DuplicateImage (IMAGE_DUPLICATES; the upload and its object are deleted), QuotaExceeded (the
    upload stays, to complete once space is freed), UploadNotReceived, UploadExpired (deleted) or UploadGone.
    """
    if upload.image is not None:
        return upload.image
    if upload.verdict and upload.verdict["refused"] in FINAL_VERDICTS:
        raise _answered(upload)
    slots = _slots()
    if not slots.acquire(blocking=False):
        raise CompletionsBusy()
    try:
        if settings.IMAGE_DIRECT_UPLOAD_VERIFY_IN_WORKER and not celery_app.conf.task_always_eager:
            image = _verified_by_worker(upload)
            if image is not None:
                return image
        return direct_upload_verify(upload.pk, answering=True)
    finally:
        slots.release()


def _slots() -> threading.BoundedSemaphore:
    size = settings.IMAGE_DIRECT_UPLOAD_CONCURRENCY
    with _completion_slots_lock:
        return _completion_slots.setdefault(size, threading.BoundedSemaphore(size))


def direct_upload_verify(upload_id, *, answering: bool) -> Image:
    """Verify a direct upload and create its image; raise a refusal (REFUSALS), or UploadGone.

    The bytes are read and checked without a lock, copied to the image's key (recorded first, so that a crash
    leaves nothing behind), and the image is created under the upload's row lock: of two verifications racing
    (a worker and the API process), one creates the image and the other answers it, deleting its own copy.
    `answering`: the caller answers the client, so a final refusal deletes the upload at once. A worker (not
    answering) records each refusal on the row as its verdict for the API process waiting on it, and deletes
    the refused object itself.
    """
    upload = DirectUpload.objects.select_related("user", "image").filter(pk=upload_id).first()
    if upload is None:
        raise UploadGone()
    if upload.image is not None:
        return upload.image
    if upload.verdict and upload.verdict["refused"] in FINAL_VERDICTS:
        raise _answered(upload) if answering else _refusal(upload.verdict)
    try:
        image = _verify_and_create(upload)
    except REFUSALS as exc:
        return _refused(upload_id, exc, answering=answering)
    return image_variants_start(image)


def _verify_and_create(upload: DirectUpload) -> Image:
    storage = image_storage()
    try:
        # At most one byte over the limit is read: the store enforced the policy, and the check says so.
        data = storage.read_prefix(upload.key, settings.IMAGE_MAX_UPLOAD_SIZE + 1)
    except FileNotFoundError:  # not there yet, or gone with a racing completion (_refused answers its image)
        raise UploadExpired() if upload.expired else UploadNotReceived() from None
    # The proxied upload's checks, naming, Content-Type, metadata stripping and duplicates (staff in the admin add
    # what they drop); the image takes the upload's reservation of the quota.
    file = ContentFile(data, name=upload.filename)
    prepared = image_prepare(
        user=upload.user,
        file=file,
        title=upload.title,
        description=upload.description,
        duplicates="allow" if upload.allow_duplicates else None,
        completing=upload,
    )
    if prepared.existing is not None:  # IMAGE_DUPLICATES=reuse: the upload goes, its answer is that image
        raise DuplicateImage(prepared.existing, "reuse")
    image, stored = prepared.image, prepared.file
    assert image is not None and stored is not None  # prepared to store (reuse was answered above)

    name = image_upload_to(image, stored.name or "")  # a key of its own: the signed policy cannot reach it
    if stored is file:  # the bytes as they arrived: a copy inside the store, none through the service
        file_record_uncommitted(name)
        try:
            storage.copy(upload.key, name, image.mime_type)
        except FileNotFoundError:  # gone with a racing completion (_refused answers its image)
            StoredFileDeletion.objects.delete_files(storage, [name])
            raise UploadNotReceived() from None
    else:  # without their metadata: those bytes are stored instead
        name = file_store_uncommitted(storage, name, stored)
    image.image = name
    if variants_in_process():
        image.processing_queued_at = None  # no broker holds its job: if this process dies first, the sweeper makes them
    try:
        with transaction.atomic():
            # The row lock (a write, the transaction's first statement): a second verification waits here,
            # then finds the image the first one made.
            if not DirectUpload.objects.filter(pk=upload.pk).update(expires_at=F("expires_at")):
                raise UploadGone()
            completed = DirectUpload.objects.filter(pk=upload.pk).values_list("image_id", flat=True).get()
            if completed is None:
                # The owner's lock until commit; QuotaExceeded: nothing kept.
                quota_reserve(upload.user, image.size, image=True, completing=upload)
                image.save()
                file_row_committed(name)
                upload.image = image
                upload.save(update_fields=["image"])
                image_event_send(UPLOAD_COMPLETED, image)  # in the completing transaction
                # The pending key goes once this commits, recorded with it: no crash leaves it behind.
                files_delete_on_commit(storage, [upload.key])
                return image
    except BaseException:
        StoredFileDeletion.objects.delete_files(storage, [name])
        raise
    # Another verification completed it meanwhile: its image stands, not this copy.
    StoredFileDeletion.objects.delete_files(storage, [name])
    return Image.objects.get(pk=completed)


def _refused(upload_id, exc: Exception, *, answering: bool) -> Image:
    """Apply a refusal under the upload's row lock and raise it; or answer the image completed meanwhile."""
    verdict = _verdict(exc)
    with transaction.atomic():
        if not DirectUpload.objects.filter(pk=upload_id).update(expires_at=F("expires_at")):
            raise UploadGone()
        upload = DirectUpload.objects.select_related("image").get(pk=upload_id)
        if upload.image is not None:
            return upload.image  # a racing verification created it: that answer stands
        if answering and verdict["refused"] in FINAL_VERDICTS:
            upload.delete()  # its object goes once this commits (signals)
        elif not answering:
            upload.verdict = verdict
            upload.save(update_fields=["verdict"])
            if verdict["refused"] in FINAL_VERDICTS:
                files_delete_on_commit(image_storage(), [upload.key])
    raise exc


def _verified_by_worker(upload: DirectUpload) -> Image | None:
    """Queue the verification and wait for a worker's verdict: the image, a refusal raised, or None to verify here."""
    if upload.verdict is not None:  # a passing verdict of an earlier try (not received, over quota): not this one's
        # Never a final one: a late worker may have recorded it since the upload was read; the looks below find it.
        DirectUpload.objects.filter(pk=upload.pk, image=None).exclude(verdict__refused__in=FINAL_VERDICTS).update(
            verdict=None
        )
    try:
        celery_app.signature(VERIFY_TASK, args=(str(upload.pk),)).delay()
    except BROKER_ERRORS as exc:
        logger.warning("Could not queue the verification of upload %s (verifying here): %s", upload.pk, exc)
        return None
    deadline = time.monotonic() + settings.IMAGE_DIRECT_UPLOAD_VERIFY_WAIT
    # Look first when a worker should be done (0.2 to 0.3 s for a 6 MB photo: bench/direct_upload_cpu.py),
    # then less and less often: each look is a query, and this process's CPU is what the worker is there to save.
    pause = 0.05 + upload.size * 40e-9
    while time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 1.5, 0.5)
        found = DirectUpload.objects.filter(pk=upload.pk).values_list("image_id", "verdict").first()
        if found is None:
            raise UploadGone()  # deleted meanwhile (its owner, the sweeper)
        image_id, verdict = found
        if image_id:
            return Image.objects.get(pk=image_id)
        if verdict is not None:
            if verdict["refused"] == "retry":  # the worker could not reach the store or the database
                return None
            upload.verdict = verdict
            raise _answered(upload) if verdict["refused"] in FINAL_VERDICTS else _refusal(verdict)
    logger.warning(
        "No worker verified upload %s within %s s: verifying here", upload.pk, settings.IMAGE_DIRECT_UPLOAD_VERIFY_WAIT
    )
    return None


def _answered(upload: DirectUpload) -> Exception:
    """The final refusal recorded on the upload, to raise now that it is answered: the upload goes."""
    verdict = upload.verdict or {}
    upload.delete()
    return _refusal(verdict)


def _verdict(exc: Exception) -> dict:
    """A refusal as JSON on the upload's row (the worker's answer to the API process); _refusal reverses it."""
    if isinstance(exc, ValidationError):
        return {"refused": "invalid", "errors": exc.message_dict}  # always under a field: "image", "title"...
    if isinstance(exc, DuplicateImage):
        return {"refused": "duplicate", "image": exc.existing.pk, "policy": exc.policy}
    if isinstance(exc, QuotaExceeded):
        return {"refused": "quota", "usage": exc.extra["usage"], "size": exc.extra["size"]}
    return {"refused": "expired" if isinstance(exc, UploadExpired) else "not_received"}


def _refusal(verdict: dict) -> Exception:
    match verdict["refused"]:
        case "invalid":
            return ValidationError(verdict["errors"])
        case "duplicate":
            existing = Image.objects.filter(pk=verdict["image"]).first()
            return DuplicateImage(existing, verdict["policy"]) if existing else UploadGone()
        case "quota":
            return QuotaExceeded(Usage(**verdict["usage"]), verdict["size"])
        case "expired":
            return UploadExpired()
    return UploadNotReceived()


# --- Abandoned uploads -----------------------------------------------------------------------------


def direct_uploads_sweep() -> int:
    """Delete pending uploads whose policy expired over IMAGE_DIRECT_UPLOAD_EXPIRE ago, and their objects.

    The extra time covers a file that started arriving just before expiry. Returns how many were removed.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.IMAGE_DIRECT_UPLOAD_EXPIRE)
    removed, _ = DirectUpload.objects.filter(image=None, expires_at__lt=cutoff).delete()
    return removed  # each one's object is deleted after the commit (signals.delete_upload_object_after_commit)


def direct_upload_strays_sweep() -> int:
    """Delete the objects under uploads/ that no open upload owns; return how many.

    A signed S3 POST cannot be revoked: until its policy expires it works again after the upload is completed
    (or deleted with its image, or refused), and what it stores there is no image and in no quota. Every open
    upload's object is under uploads/ and nothing else is meant to be, so one listing finds the rest.
    """
    storage = image_storage()
    found = [name for name, _ in storage.stored_objects(DIRECT_UPLOAD_PREFIX)]
    # Listed after the store: an upload signed meanwhile is owned, not taken for a stray.
    owned = set(
        DirectUpload.objects.filter(image=None, key__startswith=DIRECT_UPLOAD_PREFIX).values_list("key", flat=True)
    )
    strays = [name for name in found if name not in owned]
    StoredFileDeletion.objects.delete_files(storage, strays)
    return len(strays)
