"""Server-Timing (SERVER_TIMING): what each step of a request cost, in time and database queries, in its answer.

Code marks its steps with `with timed("scrub"):`; with SERVER_TIMING on, ServerTimingMiddleware answers
`Server-Timing: auth;dur=0.41;desc="1 query", scrub;dur=1.20;desc="0 queries", ..., total;dur=9.8`. A step's
time excludes the steps marked inside it, so the parts add up to the total; what no step covers is `other`
(DRF's dispatch, rendering, middleware). Queries count where they run: `bench/upload_breakdown.py` reads the
header from outside, under gunicorn. Off (the default), a mark costs a context variable's lookup.
"""

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse


class _Recorder:
    """The steps of one request: exclusive time and queries per step name."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.durations: dict[str, float] = {}
        self.queries: dict[str, int] = {}
        self.stack: list[tuple[str, float]] = []  # (step, when it last resumed)

    def enter(self, name: str) -> None:
        now = time.perf_counter()
        if self.stack:
            self._add(*self.stack[-1], now)
        self.stack.append((name, now))

    def leave(self) -> None:
        now = time.perf_counter()
        self._add(*self.stack.pop(), now)
        if self.stack:
            self.stack[-1] = (self.stack[-1][0], now)

    def _add(self, name: str, since: float, now: float) -> None:
        self.durations[name] = self.durations.get(name, 0.0) + now - since

    def query(self, execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        """A database execute wrapper: count the query under the step it runs in."""
        name = self.stack[-1][0] if self.stack else "other"
        self.queries[name] = self.queries.get(name, 0) + 1
        return execute(sql, params, many, context)

    def header(self) -> str:
        total = time.perf_counter() - self.started
        other = total - sum(self.durations.values())
        parts = [*self.durations.items(), ("other", other)]
        entries = []
        for name, seconds in parts:
            count = self.queries.get(name, 0)
            entries.append(f'{name};dur={seconds * 1000:.3f};desc="{count} quer{"y" if count == 1 else "ies"}"')
        entries.append(f"total;dur={total * 1000:.3f}")
        return ", ".join(entries)


_recorder: ContextVar[_Recorder | None] = ContextVar("server_timing", default=None)


class _Step:
    __slots__ = ("name", "recorder")

    def __init__(self, name: str, recorder: _Recorder) -> None:
        self.name, self.recorder = name, recorder

    def __enter__(self) -> None:
        self.recorder.enter(self.name)

    def __exit__(self, *exc: object) -> None:
        self.recorder.leave()


class _NoStep:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_STEP = _NoStep()


def timed(name: str) -> _Step | _NoStep:
    """A context manager that counts its block as the step `name` of the current request (when recorded)."""
    recorder = _recorder.get()
    return _NO_STEP if recorder is None else _Step(name, recorder)


class ServerTimingMiddleware:
    """With SERVER_TIMING on, record each request's steps and send them in a Server-Timing header."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.SERVER_TIMING:
            return self.get_response(request)
        recorder = _Recorder()
        token = _recorder.set(recorder)
        try:
            with connection.execute_wrapper(recorder.query):
                response = self.get_response(request)
        finally:
            _recorder.reset(token)
        response["Server-Timing"] = recorder.header()
        return response
