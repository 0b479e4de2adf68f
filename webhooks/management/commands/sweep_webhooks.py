"""Queue again webhook deliveries whose job was lost; forget old events."""

from django.core.management.base import BaseCommand

from webhooks.services import deliveries_sweep


class Command(BaseCommand):
    help = (
        "Queue again the webhook deliveries due for longer than WEBHOOK_SWEEP_INTERVAL seconds (their job was lost "
        "with the broker or a worker, or their retry is due), and delete events older than WEBHOOK_RETENTION_DAYS "
        "that have nothing pending. Safe to run at any time, e.g. from cron; Celery beat runs it every "
        "WEBHOOK_SWEEP_INTERVAL s. Without a broker it makes the attempts itself."
    )

    def handle(self, *args, **options) -> None:
        result = deliveries_sweep()
        queued, forgotten = result["queued"], result["forgotten"]
        self.stdout.write(f"Queued {queued} webhook delivery(ies); forgot {forgotten} old event(s).")
