"""Work a request hands on to run once its response has been sent: the client never waits for it.

`after_response(func, *args)` during a request served through `config.wsgi` (AfterResponse) runs the call
when the WSGI server closes the response, that is after it has written the whole body: the client has its
answer, and how long the call takes cannot be seen in the answer's timing. Outside such a request (a
management command, a Celery task, Django's test client) it runs at once.

A WSGI server runs the call in the thread that served the request, which it holds meanwhile: with gunicorn's
threads (gunicorn.conf.py) other requests go to the other threads. The call runs in the context it was deferred
in (its context variables: the request id of config.logs, for its log lines and the tasks it queues).
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from contextvars import Context, ContextVar, copy_context
from typing import Any

logger = logging.getLogger(__name__)

# The calls deferred by the request being served in this thread; None outside a request.
_deferred: ContextVar[list[tuple[Context, Callable, tuple]] | None] = ContextVar("after_response", default=None)


def after_response(func: Callable[..., Any], *args: Any) -> None:
    """Call func(*args) once the current response has been sent; at once outside a request. Errors are logged."""
    jobs = _deferred.get()
    if jobs is None:
        _call(func, args)
    else:
        jobs.append((copy_context(), func, args))


def _call(func: Callable[..., Any], args: tuple) -> None:
    try:
        func(*args)
    except Exception:  # the answer has gone (or stands): nothing to do but say so
        logger.exception("%s, run after the response, failed", getattr(func, "__qualname__", func))


class AfterResponse:
    """WSGI middleware: collect the calls a request defers, and make them when the server closes its response."""

    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        jobs: list[tuple[Context, Callable, tuple]] = []
        token = _deferred.set(jobs)
        try:
            body = self.application(environ, start_response)
        finally:
            _deferred.reset(token)
        # Untouched when nothing was deferred, so that the server still sees a file response as one (sendfile).
        return _ThenCall(body, jobs) if jobs else body


class _ThenCall:
    """A response body that makes the deferred calls when the server closes it, before the body's own close()
    (Django's, which ends the request: request_finished, the database connections' upkeep)."""

    def __init__(self, body: Iterable[bytes], jobs: list[tuple[Context, Callable, tuple]]) -> None:
        self.body, self.jobs = body, jobs

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            for context, func, args in self.jobs:
                context.run(_call, func, args)
        finally:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
