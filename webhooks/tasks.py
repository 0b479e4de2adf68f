"""Background jobs: thin Celery wrappers around the webhook services."""

import logging

from celery import shared_task

from .services import deliveries_sweep, delivery_attempt

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    """Make one attempt of a delivery (queue `webhooks`); its retries are rows the sweeper finds, not Celery retries.

    Acknowledged late: a worker killed mid-attempt leaves the job to be delivered again, and the delivery due
    again for the sweeper; a receiver may then get the event twice (the same webhook-id).
    """
    delivery_attempt(delivery_id)


@shared_task(ignore_result=True)
def sweep_webhooks() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE): queue deliveries whose job was lost, forget old events."""
    logger.info("Webhook sweep: %s", deliveries_sweep())
