"""Per-user storage quota: what a user stores, what they may store, and the check before storing more.

The quota counts what the user puts in the store: every image's original (`size`), and every direct upload
not yet completed at the size it declared, which its signed policy holds the file to (its bytes may be in
the store already). Variants are not counted: the service makes them, they are bounded by the originals
(a few boxes of WebP each), and counting them would let an image that fits take the usage over the quota
once its variants are made. So `usage.bytes` never exceeds the quota, as photo services count (originals).

Usage is a running total on the owner's row (`stored_bytes`, `stored_images`), changed in the transaction that
inserts or deletes what it counts: `quota_reserve` adds, in one conditional UPDATE that also checks the quota,
and the deletion of an image or of an open direct upload subtracts, however it is deleted (signals). Two
uploads racing for the last free bytes are serialised by that UPDATE's row lock, and the second one's condition
is checked against the first one's total. `usage_recount` computes the totals again from the rows
(`manage.py recount_usage`), should anything ever change rows behind the services' back.
"""

from dataclasses import asdict, dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from .errors import QuotaExceeded
from .models import DirectUpload, Image


@dataclass(frozen=True)
class Usage:
    """What a user stores (originals and open direct uploads, in bytes), how many images, and their quota
    (None: none)."""

    bytes: int
    images: int
    quota_bytes: int | None


def user_quota(user) -> int | None:
    """The user's own quota when staff set one, else IMAGE_USER_QUOTA_BYTES (None: no quota)."""
    return user.quota_bytes if user.quota_bytes is not None else settings.IMAGE_USER_QUOTA_BYTES


def quota_usage(user, *, completing: DirectUpload | None = None) -> Usage:
    """What the user stores, as their row was read; `completing`: without that upload's reservation."""
    stored = user.stored_bytes - (completing.size if completing is not None else 0)
    return Usage(bytes=stored, images=user.stored_images, quota_bytes=user_quota(user))


def quota_check(user, size: int, *, completing: DirectUpload | None = None) -> None:
    """Raise QuotaExceeded when storing `size` more bytes would pass the user's quota (a first look, as the user's
    row was read with the request: quota_reserve decides).

    `completing`: the direct upload whose image this is; its declared size is no longer counted.
    """
    usage = quota_usage(user, completing=completing)
    if usage.quota_bytes is not None and usage.bytes + size > usage.quota_bytes:
        raise QuotaExceeded(usage, size)


def quota_reserve(user, size: int, *, image: bool, completing: DirectUpload | None = None) -> None:
    """Count `size` more bytes (and one more image, with `image`) on the owner's row, unless that passes the quota.

    Call inside the transaction that inserts the image or the direct upload (or links the upload to its image:
    `completing`, whose declared size the image's replaces): the total changes exactly when that commits. One
    UPDATE whose condition is the quota (the user's own, else IMAGE_USER_QUOTA_BYTES): it holds the row until the
    transaction ends, so a second upload of the same user waits for it, and PostgreSQL checks its condition again
    on the row the first one left (on SQLite it takes the database's write lock at once). Raises QuotaExceeded.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("quota_reserve must run inside the transaction that stores the image.")
    added = size - (completing.size if completing is not None else 0)
    default = settings.IMAGE_USER_QUOTA_BYTES
    within = Q(quota_bytes__isnull=False, stored_bytes__lte=F("quota_bytes") - added)
    within |= (
        Q(quota_bytes__isnull=True)
        if default is None
        else Q(quota_bytes__isnull=True, stored_bytes__lte=default - added)
    )
    users = get_user_model()._default_manager.filter(pk=user.pk)
    if users.filter(within).update(
        stored_bytes=F("stored_bytes") + added, stored_images=F("stored_images") + int(image)
    ):
        return
    row = users.values("stored_bytes", "stored_images", "quota_bytes").first()
    if row is None:
        raise get_user_model().DoesNotExist(f"User {user.pk} was deleted.")
    user.stored_bytes, user.stored_images, user.quota_bytes = (
        row["stored_bytes"],
        row["stored_images"],
        row["quota_bytes"],
    )
    raise QuotaExceeded(quota_usage(user, completing=completing), size)


def usage_release(user_id: int, size: int, *, image: bool) -> None:
    """Count `size` bytes (and an image, with `image`) fewer on the owner's row, in the transaction deleting them."""
    get_user_model()._default_manager.filter(pk=user_id).update(
        stored_bytes=F("stored_bytes") - size, stored_images=F("stored_images") - int(image)
    )


def usage_recount(users: QuerySet | None = None) -> int:
    """Compute the stored totals of these users (all by default) again from their rows; return how many changed.

    Each user's row is locked while its total is counted and written, so an upload committing meanwhile is
    counted once, before or after.
    """
    changed = 0
    model = get_user_model()
    for pk in (users if users is not None else model._default_manager.all()).values_list("pk", flat=True):
        with transaction.atomic():
            row = model._default_manager.filter(pk=pk)
            if not row.update(stored_bytes=F("stored_bytes")):  # the lock (a write: SQLite's lock too)
                continue
            images = Image.objects.filter(user_id=pk).aggregate(bytes=Coalesce(Sum("size"), 0), count=Count("pk"))
            pending = DirectUpload.objects.filter(user_id=pk, image=None).aggregate(bytes=Coalesce(Sum("size"), 0))
            total = images["bytes"] + pending["bytes"]
            changed += row.exclude(stored_bytes=total, stored_images=images["count"]).update(
                stored_bytes=total, stored_images=images["count"]
            )
    return changed


class ImageUsage:
    """The usage hook that `users` calls through settings.USER_USAGE_BACKEND (users never imports images)."""

    def usage(self, user) -> dict:
        """{"bytes", "images", "quota_bytes"} of one user."""
        return asdict(quota_usage(user))

    def annotate(self, users: QuerySet) -> QuerySet:
        """Add `usage_bytes` and `usage_images` to each user of a queryset (the admin list): their own totals."""
        return users.annotate(usage_bytes=F("stored_bytes"), usage_images=F("stored_images"))
