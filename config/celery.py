"""The Celery app: settings from Django's (CELERY_*), tasks from each app's tasks.py."""

import os
from datetime import datetime, timedelta

from celery import Celery
from celery.signals import worker_init
from django.utils import timezone
from kombu.transport.redis import Channel as RedisChannel

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A task carries the id of the request that queued it into the worker's logs (signals connected on import).
from . import logs  # noqa: E402, F401


@worker_init.connect
def _serve_worker_metrics(**kwargs) -> None:
    """WORKER_METRICS_ADDRESS: the worker's own /metrics, served by its main process for as long as it runs."""
    from django.conf import settings

    if settings.WORKER_METRICS_ADDRESS:
        from .metrics import start_worker_metrics_server

        start_worker_metrics_server(settings.WORKER_METRICS_ADDRESS)


def broker_jobs_lost_before() -> datetime | None:
    """When the broker last lost every job it held, if it can have; None for a broker that keeps them.

    A Redis that keeps nothing on disk (no append-only file) forgets its queues when it restarts: every job
    published before it started is gone. RabbitMQ keeps durable queues of persistent messages across restarts,
    and an eager (no broker) setup holds no jobs: None. Raises the broker's error when it cannot be reached.
    """
    if app.conf.task_always_eager or not app.conf.broker_url.startswith(("redis://", "rediss://", "redis+socket://")):
        return None
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        assert isinstance(channel, RedisChannel)  # a redis:// broker URL is served by kombu's Redis transport
        info = channel.client.info()
    if info.get("aof_enabled"):
        return None
    # Redis counts its uptime from its start time in whole seconds (both rounded down), so now - uptime is up to a
    # second before or after the real start. One second later is never before it: a job published in the two seconds
    # after the start may be judged lost and queued twice (harmless: the jobs are idempotent), never the reverse.
    return timezone.now() - timedelta(seconds=info["uptime_in_seconds"]) + timedelta(seconds=1)
