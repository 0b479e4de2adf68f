"""Prometheus metrics (the official client): what every request, query and cache call costs, and the service's state.

Three kinds, and where each is measured:

- per process, summed at each scrape: requests by view, method and status with their latency, database query and
  cache call timings (`imageapi_http_*`, `imageapi_db_*`, `imageapi_cache_*`), and what the apps measure in their
  code (variant build time). gunicorn runs several worker processes: gunicorn.conf.py gives them a folder of their
  own (prometheus-client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR), so a scrape of any of them sees every
  process's counts added up, those of processes gone since included;
- the service's state, the same whichever node is asked: read from the database and the broker at scrape time
  (images by processing state, oldest pending image, open direct uploads, failing webhooks, queued tasks), through
  the collectors the apps register here (`service_collector`), at most once per SERVICE_CACHE_SECONDS across nodes;
- a Celery worker's own (variant build time where the work runs): on WORKER_METRICS_ADDRESS, when set.

/metrics answers only a request carrying `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN it is a 404.
"""

import hmac
import logging
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from .cache import cache_get, cache_set

logger = logging.getLogger(__name__)

# How long a sample of the service's state is reused (shared by the nodes through the cache): a scrape every few
# seconds from each of several Prometheus servers costs the database a few counts every SERVICE_CACHE_SECONDS.
SERVICE_CACHE_SECONDS = 10
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

HTTP_REQUESTS = Counter(
    "imageapi_http_requests",
    "Requests answered, by view (the URL's name), method and status.",
    ["view", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "imageapi_http_request_duration_seconds",
    "Time to answer a request, by view and method.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DB_SECONDS = Histogram(
    "imageapi_db_query_duration_seconds",
    "Time of each database query, by connection alias and statement (select, insert, update, delete, other).",
    ["alias", "statement"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
CACHE_SECONDS = Histogram(
    "imageapi_cache_operation_duration_seconds",
    "Time of each call to the shared cache (Redis), by operation; failures counted too.",
    ["operation", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)


# --- Requests --------------------------------------------------------------------------------------------------


class MetricsMiddleware:
    """Count and time every request by the name of the view that answered it (a bounded set of labels)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "other") if match else "unresolved"
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
        HTTP_SECONDS.labels(view, method).observe(time.perf_counter() - started)
        return response


# --- Database and cache ----------------------------------------------------------------------------------------


def _time_queries(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        statement = sql.lstrip()[:6].lower() if isinstance(sql, str) else ""
        if statement not in ("select", "insert", "update", "delete"):
            statement = "other"
        DB_SECONDS.labels(context["connection"].alias, statement).observe(time.perf_counter() - started)


def _instrument_connection(sender, connection, **kwargs) -> None:
    """Time every query of each new database connection (Django's execute_wrappers), whatever the engine."""
    if _time_queries not in connection.execute_wrappers:
        connection.execute_wrappers.append(_time_queries)


connection_created.connect(_instrument_connection, dispatch_uid="config.metrics.instrument_connection")


def _timed(operation: str, method: Callable) -> Callable:
    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        outcome = "error"
        try:
            result = method(self, *args, **kwargs)
            outcome = "ok"
            return result
        finally:
            CACHE_SECONDS.labels(operation, outcome).observe(time.perf_counter() - started)

    timed.__name__ = method.__name__
    return timed


class TimedRedisCache(RedisCache):
    """Django's Redis cache, each call timed (CACHE_SECONDS)."""


for _operation in ("get", "get_many", "set", "set_many", "add", "incr", "delete", "delete_many", "touch", "clear"):
    setattr(TimedRedisCache, _operation, _timed(_operation, getattr(RedisCache, _operation)))


# --- The service's state, from the apps ------------------------------------------------------------------------

SERVICE_COLLECTORS: list[Callable[[], Iterable[Metric]]] = []


def service_collector(collect: Callable[[], Iterable[Metric]]) -> Callable[[], Iterable[Metric]]:
    """Register a function yielding metric families of the service's state (an app's ready() calls this)."""
    if collect not in SERVICE_COLLECTORS:
        SERVICE_COLLECTORS.append(collect)
    return collect


class _Collected:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def service_metrics() -> bytes:
    """The service's state in the exposition format, read afresh at most once per SERVICE_CACHE_SECONDS."""
    text = cache_get("metrics:service")
    if text is not None:
        return text
    metrics: list[Metric] = []
    up = GaugeMetricFamily("imageapi_service_metrics_up", "1 when each source of the service's state answered.")
    failed = 0
    for collect in SERVICE_COLLECTORS:
        try:
            metrics += list(collect())
        except Exception:  # a source down (the database, the broker) must not take the others' metrics with it
            logger.warning("Service metrics from %s failed", collect.__qualname__, exc_info=True)
            failed += 1
    up.add_metric([], 0 if failed else 1)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collected([*metrics, up]))
    text = generate_latest(registry)
    cache_set("metrics:service", text, SERVICE_CACHE_SECONDS)
    return text


# --- Exposition ------------------------------------------------------------------------------------------------


def process_registry() -> CollectorRegistry:
    """What this process's metrics are, to a scrape: every worker process's added up (multiprocess mode), or its own."""
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    return registry


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: for a Prometheus server holding METRICS_TOKEN (Authorization: Bearer <token>)."""
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"detail": "Not found."}, status=404)
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        response = JsonResponse({"detail": "Metrics need Authorization: Bearer <METRICS_TOKEN>."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(process_registry()) + service_metrics(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def queue_metrics() -> Iterable[Metric]:
    """Tasks waiting in each Celery queue (nothing while tasks run inline, without a broker)."""
    from .celery import app

    if app.conf.task_always_eager:
        return []
    depth = GaugeMetricFamily("imageapi_task_queue_messages", "Tasks waiting in each Celery queue.", labels=["queue"])
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)
        for queue in app.conf.task_queues:
            # A channel each: RabbitMQ closes the channel of a passive declare that finds no queue.
            with connection.channel() as channel:
                try:
                    # kombu-stubs type every channel as the abstract StdChannel, without the AMQP methods that each
                    # transport's channel has (kombu's own Queue.queue_declare calls this one).
                    _, messages, _ = channel.queue_declare(queue=queue.name, passive=True)  # type: ignore[attr-defined]
                except connection.channel_errors:  # never declared yet (no worker has started): nothing waits
                    messages = 0
            depth.add_metric([queue.name], messages)
    return [depth]


service_collector(queue_metrics)


# --- A Celery worker's own ---------------------------------------------------------------------------------------


def start_worker_metrics_server(address: str) -> None:
    """Serve this worker's metrics (its pool's processes added up, with PROMETHEUS_MULTIPROC_DIR) on host:port."""
    from prometheus_client import start_http_server

    host, _, port = address.rpartition(":")
    start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=process_registry())
    logger.info("Worker metrics on http://%s/metrics", address)
