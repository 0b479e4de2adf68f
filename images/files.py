"""Stored files and their rows kept in step: a file stored for a row not committed yet, files that go when their
rows go, and the sweeper's retries. No crash, outage or race leaves a file without its row (StoredFileDeletion
records each one that must go, in the database, until it is gone)."""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.db import transaction
from django.utils import timezone

from config.timing import timed

from .errors import StoredFileClaimed
from .models import RETRYABLE_ERRORS, Image, StoredFileDeletion

logger = logging.getLogger(__name__)

# A file stored for a row not committed yet is deleted this long after, unless its row commits first: far longer
# than an upload takes from writing its file to committing its row (the store's calls are bounded by
# AWS_S3_REQUEST_BUDGET, the rest is a few queries).
UNCOMMITTED_FILE_GRACE = timedelta(seconds=60)


def file_store_uncommitted(storage: Storage, name: str, content: File) -> str:
    """Store a file for a row about to be inserted; return its name. Call file_row_committed with the row."""
    with timed("record"):
        file_record_uncommitted(name)
    with timed("store"):
        stored = storage.save(name, content, max_length=Image._meta.get_field("image").max_length)
    if stored != name:  # the store gave it another name (never for a fresh uuid): record that one instead
        StoredFileDeletion.objects.filter(name=name).update(name=stored)
    return stored


def file_record_uncommitted(name: str) -> None:
    """Before a file is written for a row not inserted yet: record it for deletion after UNCOMMITTED_FILE_GRACE.

    A process that dies before the row commits (file_row_committed unrecords it) leaves nothing the sweeper
    does not remove. Outside any transaction: the record must stand whatever becomes of the row's.
    """
    StoredFileDeletion.objects.create(name=name, not_before=timezone.now() + UNCOMMITTED_FILE_GRACE)


def file_row_committed(name: str) -> None:
    """In the transaction that saves a row with a file from file_store_uncommitted: the file is the row's now.

    Raises StoredFileClaimed when the sweeper took the file meanwhile (its row was slower than the grace).
    """
    if not StoredFileDeletion.objects.filter(name=name).delete()[0]:
        raise StoredFileClaimed(name)


def files_delete_on_commit(storage: Storage, names: list[str]) -> None:
    """Delete stored files once the current transaction commits, recording them in it: if the process dies
    before they are gone, or the store refuses, the sweeper deletes them. Nothing goes if it rolls back."""
    StoredFileDeletion.objects.bulk_create([StoredFileDeletion(name=name) for name in names], ignore_conflicts=True)
    # robust: anything unforeseen here is logged and never fails the committed transaction.
    transaction.on_commit(lambda: StoredFileDeletion.objects.delete_files(storage, names), robust=True)


def deletions_retry() -> dict[str, int]:
    """Delete the files recorded for deletion that are due; forget those that go, record again those refused.

    Each is claimed by removing its record first: an upload whose row commits meanwhile (file_row_committed)
    then finds its file taken and fails, rather than saving a row whose file is going. Stops at the first
    refusal: the store is still down, and the rest would only wait for it too.
    """
    deleted = 0
    due = StoredFileDeletion.objects.filter(not_before__lte=timezone.now()).order_by("pk")
    for deletion in due.iterator():
        if not StoredFileDeletion.objects.filter(pk=deletion.pk).delete()[0]:
            continue  # gone meanwhile: its row committed, or another sweeper took it
        try:
            default_storage.delete(deletion.name)
        except RETRYABLE_ERRORS as exc:
            StoredFileDeletion.objects.bulk_create(
                [StoredFileDeletion(name=deletion.name, attempts=deletion.attempts + 1, last_error=str(exc))],
                ignore_conflicts=True,
            )
            break
        deleted += 1
    return {"deleted": deleted, "deletions_left": StoredFileDeletion.objects.count()}


def delete_quietly(storage: Storage, names: Iterable[str]) -> None:
    """Delete files that nothing records any more (a variant's old name), logging what the store refuses."""
    for name in names:
        try:
            storage.delete(name)
        except RETRYABLE_ERRORS:
            logger.warning("Could not delete %s", name, exc_info=True)
