"""Logs an operator can follow: a request id for every request, sent back in X-Request-ID, on every log line the request
causes (JSON lines when LOG_FORMAT=json, the default with DEBUG off), and carried into the Celery tasks it queues.

The id is the client's (or nginx's: `proxy_set_header X-Request-ID $request_id`) when it sends a well-formed one,
else a new one. A task gets it in a header of its message; the worker's log lines for that task carry it too.
"""

import logging
import re
import time
import uuid
from contextvars import ContextVar

from celery.signals import before_task_publish, task_prerun
from django.conf import settings
from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# What an id from outside may be: no spaces, quotes or control characters that would forge a log line.
WELL_FORMED = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
request_logger = logging.getLogger("config.requests")


def current_request_id() -> str | None:
    """The id of the request (or of the request that queued the task) being served in this context, if any."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Give every log record a `request_id` attribute (None outside a request or a task one queued)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class RequestIdMiddleware:
    """First of the middleware: take or make the request's id, answer it in X-Request-ID, and log the request
    (LOG_REQUESTS: method, path, view, status, duration, user) once it is answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if WELL_FORMED.fullmatch(given) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if settings.LOG_REQUESTS:
                log_request(request, response, time.perf_counter() - started)
            return response
        finally:
            _request_id.reset(token)


def log_request(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    """One line per request, as an access log has it, with the fields a log search filters on."""
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    request_logger.info(
        "%s %s %s %.1f ms",
        request.method,
        request.path,
        response.status_code,
        seconds * 1000,
        extra={
            "method": request.method,
            "path": request.path,
            "view": match.view_name if match else None,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
            "user_id": user.pk if user is not None and user.is_authenticated else None,
        },
    )


# --- Celery: the id travels with the task ------------------------------------------------------------------------


@before_task_publish.connect
def _send_request_id(headers: dict | None = None, **kwargs) -> None:
    """Put the current request's id in the message's headers (a worker reads it as task.request.request_id)."""
    request_id = _request_id.get()
    if request_id is not None and headers is not None:
        headers["request_id"] = request_id


@task_prerun.connect
def _take_request_id(task=None, **kwargs) -> None:
    """In a worker, make the id of the request that queued the task the current one while it runs (None for a task
    nothing queued from a request: the sweepers'). A task run inline keeps the request's own."""
    if task is None or task.request.is_eager:
        return
    _request_id.set(getattr(task.request, "request_id", None))
