"""Background jobs: forgetting expired keys."""

import logging

from celery import shared_task

from .services import idempotency_keys_purge

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE): delete the keys older than IDEMPOTENCY_KEY_TTL_HOURS."""
    logger.info("Deleted %s expired idempotency key(s)", idempotency_keys_purge())
