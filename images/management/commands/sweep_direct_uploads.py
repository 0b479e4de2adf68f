"""Remove abandoned direct uploads and whatever object they left (sweep_images does this too)."""

from django.core.management.base import BaseCommand

from images.direct_uploads import direct_upload_strays_sweep, direct_uploads_sweep


class Command(BaseCommand):
    help = (
        "Delete direct uploads never completed whose signed policy expired more than IMAGE_DIRECT_UPLOAD_EXPIRE "
        "seconds ago, and their objects in the store; and the objects under uploads/ that no open upload owns "
        "(a signed POST used again after its upload was completed). Safe to run at any time; sweep_images (and "
        "its Celery beat task) runs it as well."
    )

    def handle(self, *args, **options) -> None:
        removed = direct_uploads_sweep()
        strays = direct_upload_strays_sweep()
        self.stdout.write(
            f"Removed {removed} abandoned direct upload(s) and {strays} object(s) under uploads/ "
            "that no open upload owns."
        )
