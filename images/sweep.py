"""The sweeper: what `manage.py sweep_images` and the periodic Celery task run, safe at any time and anywhere.

Above the services it calls: images whose job was lost or is overdue are queued again (or failed), recorded file
deletions are retried, abandoned direct uploads and stray objects are removed.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.celery import broker_jobs_lost_before
from config.unavailable import BROKER_ERRORS, CACHE_ERRORS

from .direct_uploads import direct_upload_strays_sweep, direct_uploads_sweep
from .files import deletions_retry
from .models import Image
from .services import images_mark_failed, variants_schedule_many

logger = logging.getLogger(__name__)


def images_sweep() -> dict[str, int]:
    """Queue again the images whose job the broker lost and those pending for too long, fail those queued too
    often, delete the files recorded for deletion, remove abandoned direct uploads with their objects, and
    objects no open direct upload owns.

    Run by `manage.py sweep_images` and the periodic Celery task; safe to run at any time and anywhere.
    """
    lost = images_requeue_lost()
    stale = Image.objects.filter(
        processing=Image.Processing.PENDING,
        processing_queued_at__lt=timezone.now() - timedelta(seconds=settings.IMAGE_PENDING_TIMEOUT),
    )
    failed = images_mark_failed(stale.filter(processing_requeues__gte=settings.IMAGE_SWEEP_MAX_REQUEUES))
    if failed:
        logger.error("%s image(s) pending after %s requeues marked failed", failed, settings.IMAGE_SWEEP_MAX_REQUEUES)
    with transaction.atomic():
        ids = list(stale.select_for_update(skip_locked=True).values_list("pk", flat=True))
        Image.objects.filter(pk__in=ids).update(
            processing_queued_at=timezone.now(), processing_requeues=F("processing_requeues") + 1
        )
        variants_schedule_many(ids)
    return {
        "lost_requeued": lost,
        "requeued": len(ids),
        "failed": failed,
        **deletions_retry(),
        "uploads_removed": direct_uploads_sweep(),
        "upload_strays_removed": direct_upload_strays_sweep(),
    }


def images_requeue_lost() -> int:
    """Queue again the pending images whose job never reached the broker, or was lost with it; return how many.

    Those a publish failed for are marked (no queued time); on a broker that forgets its jobs when it restarts
    (a Redis without persistence), those queued before its last start are lost too. Jobs still held by a live
    broker are never queued twice, however long the queue: a backlog of thousands is left alone. Not counted
    as a requeue towards IMAGE_SWEEP_MAX_REQUEUES: the image is not at fault.
    """
    lost = Q(processing_queued_at=None)
    try:
        restarted = broker_jobs_lost_before()
    except BROKER_ERRORS + CACHE_ERRORS as exc:  # down: nothing can be queued now anyway
        logger.warning("The broker cannot be reached to look for lost jobs: %s", exc)
        return 0
    if restarted is not None:
        lost |= Q(processing_queued_at__lt=restarted)
    with transaction.atomic():
        ids = list(
            Image.objects.filter(lost, processing=Image.Processing.PENDING)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        Image.objects.filter(pk__in=ids).update(processing_queued_at=timezone.now())
        variants_schedule_many(ids)
    if ids:
        logger.warning("Queued again %s image(s) whose job the broker lost", len(ids))
    return len(ids)
