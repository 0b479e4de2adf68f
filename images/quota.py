"""Per-user storage quota (issue 12): what a user stores, what they may store, and the check before storing more.

The quota counts what the user puts in the store: every image's original (`size`), and every direct upload
not yet completed at the size it declared, which its signed policy holds the file to (its bytes may be in
the store already). Variants are not counted: the service makes them, they are bounded by the originals
(a few boxes of WebP each), and counting them would let an image that fits take the usage over the quota
once its variants are made. So `usage.bytes` never exceeds the quota, as photo services count (originals).

Usage is computed from the rows, never kept in a counter that could drift. Two uploads racing for the last
free bytes are serialised by `quota_reserve`, which locks the owner's row for the rest of the transaction
that inserts the image or the upload (see its docstring).
"""

from dataclasses import asdict, dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.template.defaultfilters import filesizeformat
from rest_framework import status
from rest_framework.exceptions import APIException

from .models import DirectUpload, Image


@dataclass(frozen=True)
class Usage:
    """What a user stores (originals and open direct uploads, in bytes), how many images, and their quota
    (None: none)."""

    bytes: int
    images: int
    quota_bytes: int | None


class QuotaExceeded(APIException):
    """409 Conflict: storing this would take the account over its quota (docs/direct-uploads.md, "Per-user quota").

    Not 413 (that is this request's body being too large, and a signing request has a tiny body), not 403
    (nothing about the credentials), not 507 (a 5xx that clients and proxies retry): the account's state
    conflicts with the request, and the client can resolve it by deleting images (RFC 9110, 15.5.10).
    """

    status_code = status.HTTP_409_CONFLICT
    default_code = "quota_exceeded"

    def __init__(self, usage: Usage, size: int) -> None:
        super().__init__(
            f"This upload ({filesizeformat(size)}) would exceed your storage quota: "
            f"{filesizeformat(usage.bytes)} of {filesizeformat(usage.quota_bytes)} used.",
        )
        # Sent beside "detail" as numbers (config.exceptions adds `extra_data` to the answer).
        self.extra_data = {"code": self.default_code, "usage": asdict(usage), "size": size}


def user_quota(user) -> int | None:
    """The user's own quota when staff set one, else IMAGE_USER_QUOTA_BYTES (None: no quota)."""
    return user.quota_bytes if user.quota_bytes is not None else settings.IMAGE_USER_QUOTA_BYTES


def user_usage(user, *, completing: DirectUpload | None = None) -> Usage:
    """Add up what the user stores now; `completing`: without that upload's reservation (its image replaces it)."""
    images = Image.objects.filter(user=user).aggregate(bytes=Coalesce(Sum("size"), 0), images=Count("pk"))
    uploads = DirectUpload.objects.filter(user=user, image=None)
    if completing is not None:
        uploads = uploads.exclude(pk=completing.pk)
    pending = uploads.aggregate(bytes=Coalesce(Sum("size"), 0))["bytes"]
    return Usage(bytes=images["bytes"] + pending, images=images["images"], quota_bytes=user_quota(user))


def quota_check(user, size: int, *, completing: DirectUpload | None = None) -> None:
    """Raise QuotaExceeded when storing `size` more bytes would pass the user's quota (no lock: a first look).

    `completing`: the direct upload whose image this is; its declared size is no longer counted.
    """
    if user_quota(user) is None:
        return
    usage = user_usage(user, completing=completing)
    if usage.bytes + size > usage.quota_bytes:
        raise QuotaExceeded(usage, size)


def quota_reserve(user, size: int, *, completing: DirectUpload | None = None) -> None:
    """Check the quota for `size` more bytes, holding the owner's row locked until the transaction ends.

    Call inside the transaction that inserts the image (or the direct upload, or links it to its image:
    `completing`). The lock is an UPDATE of the user's row to itself, which every database takes as a
    write lock: on PostgreSQL it holds the row (like select_for_update) so a second upload of the same user
    waits here until the first has committed its image and then sees it in its sum; on SQLite (where
    select_for_update does nothing) it takes the database's write lock at once, so the second transaction
    waits in the same place instead of failing later with "database is locked" when both try to write.
    Nothing is locked when no quota applies.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("quota_reserve must run inside the transaction that stores the image.")
    if user_quota(user) is None:
        return
    users = get_user_model()._default_manager.filter(pk=user.pk)
    users.update(quota_bytes=F("quota_bytes"))
    user.quota_bytes = users.values_list("quota_bytes", flat=True).get()  # as staff last set it
    quota_check(user, size, completing=completing)


class ImageUsage:
    """The usage hook that `users` calls through settings.USER_USAGE_BACKEND (users never imports images)."""

    def usage(self, user) -> dict:
        """{"bytes", "images", "quota_bytes"} of one user."""
        return asdict(user_usage(user))

    def annotate(self, users: QuerySet) -> QuerySet:
        """Add `usage_bytes` and `usage_images` to each user of a queryset, in the same query (the admin list)."""
        # Subqueries: joining both images and uploads would multiply each one's rows by the other's.
        images = Image.objects.filter(user=OuterRef("pk")).order_by().values("user")
        uploads = DirectUpload.objects.filter(user=OuterRef("pk"), image=None).order_by().values("user")
        return users.annotate(
            usage_bytes=Coalesce(Subquery(images.annotate(total=Sum("size")).values("total")), 0)
            + Coalesce(Subquery(uploads.annotate(total=Sum("size")).values("total")), 0),
            usage_images=Coalesce(Subquery(images.annotate(count=Count("pk")).values("count")), 0),
        )
