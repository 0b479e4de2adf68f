"""Compare the rows with the store: orphaned objects, missing originals, missing variants; --fix mends."""

from datetime import UTC, datetime, timedelta
from itertools import chain

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from images.models import DIRECT_UPLOAD_PREFIX, DirectUpload, Image, StoredFileDeletion
from images.services import variants_schedule_many
from images.storage import image_storage

SHOWN = 20  # problems listed of each kind; the counts cover them all


class Command(BaseCommand):
    help = (
        "Compare the images' rows with the objects in the store under images/ and uploads/: objects no row refers to "
        "(orphans, with their age; the keys of direct uploads still open are not orphans), rows whose original "
        "is missing, and ready images missing a variant. "
        "--fix deletes orphans older than --grace and queues the missing variants again. Exits non-zero "
        "while anything is wrong, so it can run from cron."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fix", action="store_true", help="Delete old orphans; queue missing variants again.")
        parser.add_argument(
            "--grace",
            type=int,
            default=3600,
            help="Seconds an orphan is left alone: it may be an upload still in progress (default 3600).",
        )

    def handle(self, *args, fix: bool, grace: int, verbosity: int, **options) -> None:
        quiet = None if verbosity else True  # None: tqdm draws its bars on a terminal only
        storage = image_storage()
        listing = chain(storage.stored_objects("images/"), storage.stored_objects(DIRECT_UPLOAD_PREFIX))
        objects = dict(tqdm(listing, desc="Listing the store", disable=quiet, unit="object"))
        owned: set[str] = set()
        missing_originals: list[int] = []
        missing_variants: list[int] = []
        for image in tqdm(
            Image.objects.order_by("pk").iterator(),
            total=Image.objects.count(),
            desc="Checking rows",
            disable=quiet,
            unit="image",
        ):
            owned.update(image.stored_names())
            if image.image.name not in objects:
                missing_originals.append(image.pk)
            elif image.processing == Image.Processing.READY and not self._variants_stored(image, objects):
                missing_variants.append(image.pk)
        # The listing came first: a row uploaded or made ready since is not in it. What looks missing is looked
        # at again, file by file, so that a live service's work is never reported (or "fixed") as damage.
        missing_originals = [pk for pk in missing_originals if self._still_missing(pk, variants=False)]
        missing_variants = [pk for pk in missing_variants if self._still_missing(pk, variants=True)]

        # A direct upload's key is owned while the upload may still complete (until the sweeper would take it).
        open_since = timezone.now() - timedelta(seconds=settings.IMAGE_DIRECT_UPLOAD_EXPIRE)
        owned.update(DirectUpload.objects.filter(image=None, expires_at__gte=open_since).values_list("key", flat=True))
        now = datetime.now(tz=UTC)
        orphans = {name: now - modified for name, modified in objects.items() if name not in owned}
        old = sorted(name for name, age in orphans.items() if age > timedelta(seconds=grace))
        self._report("orphaned object(s)", [f"{name} ({_age(orphans[name])} old)" for name in sorted(orphans)])
        self._report("image(s) whose original is missing", missing_originals)
        self._report("ready image(s) missing a variant", missing_variants)

        wrong = bool(old or missing_originals or missing_variants)
        if fix:
            StoredFileDeletion.objects.filter(name__in=old).delete()  # done here, or recorded afresh if refused
            StoredFileDeletion.objects.delete_files(default_storage, old)
            with transaction.atomic():
                Image.objects.filter(pk__in=missing_variants).update(
                    processing=Image.Processing.PENDING, processing_queued_at=timezone.now()
                )
                variants_schedule_many(missing_variants)
            self.stdout.write(
                f"Fixed: deleted {len(old)} orphan(s) older than {grace} s, queued the variants of "
                f"{len(missing_variants)} image(s) again."
            )
            wrong = bool(missing_originals)  # nothing brings a lost original back
        recent = len(orphans) - len(old)
        self.stdout.write(
            f"{len(objects)} object(s), {Image.objects.count()} image(s): {len(orphans)} orphan(s) "
            f"({recent} younger than {grace} s, left alone), {len(missing_originals)} missing original(s), "
            f"{len(missing_variants)} missing variant(s)."
        )
        if wrong:
            raise CommandError("The store and the rows disagree; see above" + ("." if fix else " (--fix mends)."))

    @staticmethod
    def _still_missing(pk: int, *, variants: bool) -> bool:
        """Whether the image (read again) still lacks its original, or, once ready, a variant."""
        image = Image.objects.filter(pk=pk).first()
        if image is None:
            return False  # deleted meanwhile
        storage = image.image.storage
        if not variants:
            name = image.image.name
            return not name or not storage.exists(name)
        if image.processing != Image.Processing.READY:
            return False
        recorded = image.variants
        return not set(settings.IMAGE_VARIANTS) <= set(recorded) or not all(map(storage.exists, recorded.values()))

    @staticmethod
    def _variants_stored(image: Image, objects: dict) -> bool:
        recorded = image.variants
        return set(settings.IMAGE_VARIANTS) <= set(recorded) and all(name in objects for name in recorded.values())

    def _report(self, what: str, items: list) -> None:
        if not items:
            return
        self.stdout.write(f"{len(items)} {what}:")
        for item in items[:SHOWN]:
            self.stdout.write(f"  {item}")
        if len(items) > SHOWN:
            self.stdout.write(f"  ... and {len(items) - SHOWN} more")


def _age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    return f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds >= 3600 else f"{seconds} s"
