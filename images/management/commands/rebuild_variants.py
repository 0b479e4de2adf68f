"""Make the variants of stored images again (after a change of IMAGE_VARIANTS, or to mend failures).

Each image's derived fields are read again from its stored file on the way: rows recorded before
the phone-photo fields get their upright width and height (EXIF orientation applied) and their variants' sizes.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from tqdm import tqdm

from images.models import Image
from images.services import build_variants, image_metadata_backfill


class Command(BaseCommand):
    help = "Rebuild the variants of every image, of one user's (--user), or only where some are missing (--missing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", type=int, help="Only the images of this user id.")
        parser.add_argument(
            "--missing",
            action="store_true",
            help="Only images not ready (pending, failed, or made before a variant was added or "
            "before variant sizes were recorded).",
        )

    def handle(self, *args, user: int | None, missing: bool, verbosity: int, **options) -> None:
        images = Image.objects.order_by("pk")
        if user is not None:
            images = images.filter(user_id=user)
        if missing:
            lacking = Q()
            for name in settings.IMAGE_VARIANTS:
                lacking |= ~Q(variants__has_key=name) | ~Q(variant_sizes__has_key=name)
            images = images.filter(~Q(processing=Image.Processing.READY) | lacking)

        built = failed = 0
        for image in tqdm(
            images.iterator(),
            total=images.count(),
            unit="image",
            desc="Rebuilding",
            disable=None if verbosity else True,
        ):
            try:
                # Older rows: the metadata fields, upright sizes filled from the file.
                image_metadata_backfill(image)
                build_variants(image)
                built += 1
            except Exception as exc:  # one bad image must not stop the rest
                failed += 1
                Image.objects.filter(pk=image.pk).update(processing=Image.Processing.FAILED)
                self.stderr.write(f"Image {image.pk}: {exc}")
        self.stdout.write(f"Rebuilt the variants of {built} image(s), {failed} failed.")
        if failed:
            raise CommandError(f"{failed} image(s) failed; see above.")
