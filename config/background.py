"""Work a request hands on to run once its response has been sent: the client never waits for it.

`in_background(func, *args)` does the same on a thread of the process's own, so that the request's thread is free
at once too (image variants without a broker); its queue is bounded (BACKGROUND_QUEUE_SIZE).

`after_response(func, *args)` during a request served through `config.wsgi` (AfterResponse) runs the call
when the WSGI server closes the response, that is after it has written the whole body: the client has its
answer, and how long the call takes cannot be seen in the answer's timing. Outside such a request (a
management command, a Celery task, Django's test client) it runs at once.

A WSGI server runs the call in the thread that served the request, which it holds meanwhile: with gunicorn's
threads (gunicorn.conf.py) other requests go to the other threads. The call runs in the context it was deferred
in (its context variables: the request id of config.logs, for its log lines and the tasks it queues).
"""

import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextvars import Context, ContextVar, copy_context
from typing import Any

from django.conf import settings
from django.db import close_old_connections

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


def deferring() -> bool:
    """Whether a served request is running in this thread (after_response defers; elsewhere it calls at once)."""
    return _deferred.get() is not None


def in_background(func: Callable[..., Any], *args: Any) -> bool:
    """Call func(*args) on this process's background thread once the current response has been sent; at once
    outside a served request. False, calling nothing, when BACKGROUND_QUEUE_SIZE calls already wait for that thread.

    One thread per process, at the lowest priority, so background work takes at most one core's worth of it and only
    what requests leave; the calls wait in memory, so the caller must be able to find again what a process that
    died never did.
    """
    jobs = _deferred.get()
    if jobs is None:
        _call(func, args)
        return True
    if not _background.has_room():
        return False
    jobs.append((copy_context(), _background.submit, (func, args)))
    return True


class _BackgroundThread:
    """A bounded queue of calls and the one daemon thread that makes them, started when first needed in a process."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.calls: deque[tuple[Context, Callable, tuple]] = deque()
        self.running = False  # a call is being made
        self.pid: int | None = None  # the process whose thread runs (a forked child starts its own)

    def idle(self) -> bool:
        """Whether no call waits or runs (the tests wait for it between tests: a late call would touch the next
        test's rows)."""
        with self.lock:
            return not self.calls and not self.running

    def has_room(self) -> bool:
        with self.lock:
            return len(self.calls) < settings.BACKGROUND_QUEUE_SIZE

    def submit(self, func: Callable, args: tuple) -> None:
        with self.lock:
            if len(self.calls) >= settings.BACKGROUND_QUEUE_SIZE:
                logger.warning("The background queue is full: %s is left undone", getattr(func, "__qualname__", func))
                return
            self.calls.append((copy_context(), func, args))  # run in the context of the request that made it
            if self.pid != os.getpid():
                self.pid = os.getpid()
                threading.Thread(target=self.run, name="background", daemon=True).start()
            self.lock.notify()

    def run(self) -> None:
        if sys.platform == "linux":  # this thread alone (elsewhere the call would take the whole process)
            # The lowest priority: requests first, background work with the CPU they leave. Under a flood of uploads
            # the queue fills and what it has no room for waits for the sweeper, instead of slowing every answer.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while True:
            with self.lock:
                while not self.calls:
                    self.lock.wait()
                context, func, args = self.calls.popleft()
                self.running = True
            close_old_connections()  # as a request would: none kept past CONN_MAX_AGE or broken
            try:
                context.run(_call, func, args)
            finally:
                close_old_connections()
                with self.lock:
                    self.running = False


_background = _BackgroundThread()


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
