"""Remove abandoned direct uploads and whatever object they left (sweep_images does this too)."""

from django.core.management.base import BaseCommand

from images.direct_uploads import direct_uploads_sweep


class Command(BaseCommand):
    help = (
        "Delete direct uploads never completed whose signed policy expired more than IMAGE_DIRECT_UPLOAD_EXPIRE "
        "seconds ago, and their objects in the store. Safe to run at any time; sweep_images (and its Celery "
        "beat task) runs it as well."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Removed {direct_uploads_sweep()} abandoned direct upload(s).")
