"""Queue again the images stuck pending, fail those that keep failing, retry deletions the store refused,
remove abandoned direct uploads."""

from django.core.management.base import BaseCommand

from images.sweep import images_sweep


class Command(BaseCommand):
    help = (
        "Queue again the variants of images pending for longer than IMAGE_PENDING_TIMEOUT seconds (marking "
        "failed those queued IMAGE_SWEEP_MAX_REQUEUES times already), and retry file deletions the store "
        "refused, and remove direct uploads abandoned (expired over IMAGE_DIRECT_UPLOAD_EXPIRE s ago) with their "
        "objects, and the objects under uploads/ that no open upload owns (a signed POST used again after its "
        "upload was completed). Safe to run at any time, e.g. from cron; Celery beat runs it every "
        "IMAGE_SWEEP_INTERVAL s."
    )

    def handle(self, *args, **options) -> None:
        result = images_sweep()
        self.stdout.write(
            f"Queued again {result['requeued']} image(s), marked {result['failed']} failed; "
            f"deleted {result['deleted']} file(s) left from earlier deletions, {result['deletions_left']} left; "
            f"removed {result['uploads_removed']} abandoned direct upload(s) and "
            f"{result['upload_strays_removed']} object(s) under uploads/ that no open upload owns."
        )
