"""DRF's scoped throttle, reading its rates when a request comes, counting locally while Redis is down, and telling the
client where it stands (RateLimit headers); the same counting for limits that are not a view's (within_rates)."""

import math
from dataclasses import dataclass

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle as DRFScopedRateThrottle

from .cache import cache_failed, cache_usable
from .timing import timed
from .unavailable import CACHE_ERRORS

# Where counts go while the shared cache is unreachable: this process's own memory.
LOCAL_COUNTS = LocMemCache("throttle-counts-while-the-cache-is-down", {})


@dataclass(frozen=True)
class RateLimitState:
    """Where a client stands against a view's limit after this request: the headers of the IETF httpapi draft
    (draft-ietf-httpapi-ratelimit-headers), RateLimit-Policy ("scope";q=quota;w=window) and RateLimit
    ("scope";r=remaining;t=seconds until a request is free again)."""

    scope: str
    quota: int
    window: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.scope}";q={self.quota};w={self.window}',
            "RateLimit": f'"{self.scope}";r={self.remaining};t={self.reset}',
        }


class ScopedRateThrottle(DRFScopedRateThrottle):
    """Limit views by their `throttle_scope`, at the rates of REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].

    While the shared cache (Redis) is unreachable the counts are kept in each process's own memory
    (LOCAL_COUNTS): the limits still hold per worker process, so an outage neither opens the login to
    unlimited guessing nor turns every throttled endpoint into an error. A stated choice: see docs/operations.md,
    "Failure modes".
    """

    # Set from the rate by DRF's allow_request (parse_rate) before anything here reads them; its stubs leave them out.
    num_requests: int
    duration: int

    def get_rate(self) -> str | None:
        """The scope's rate as the settings have it now (DRF reads its THROTTLE_RATES once, on import)."""
        # The stubs type DEFAULT_THROTTLE_RATES as numbers; DRF's rates are "count/period" strings.
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]
        return super().get_rate()

    def allow_request(self, request, view) -> bool:
        with timed("throttle"):
            allowed = self._counted(request, view)
        if getattr(self, "rate", None) is not None and getattr(self, "key", None) is not None:
            # Read by config.middleware.RateLimitHeadersMiddleware, on the answer and on a 429 alike.
            request._request.rate_limit = self.state()
        return allowed

    def _counted(self, request, view) -> bool:
        if cache_usable():
            try:
                return super().allow_request(request, view)
            except CACHE_ERRORS as exc:
                cache_failed(exc)
        self.cache = LOCAL_COUNTS
        return super().allow_request(request, view)

    def state(self) -> RateLimitState:
        """The client's standing after this request (the request itself counted if it was let through)."""
        assert self.scope is not None  # a rate is only read for a view with a throttle_scope
        oldest_ends = self.duration - (self.now - self.history[-1]) if self.history else self.duration
        return RateLimitState(
            scope=self.scope,
            quota=self.num_requests,
            window=self.duration,
            remaining=max(self.num_requests - len(self.history), 0),
            reset=max(math.ceil(oldest_ends), 0),
        )


def within_rates(key: str, rates: list[tuple[int, int]]) -> bool:
    """Count one more event for `key` against each (events, seconds) rate; False, counting no further, once one is full.

    Each rate is a window that starts with its first event. The counts live in the shared cache, and in this
    process's own memory while it is unreachable (as the throttles'). Give the rates shortest window first:
    an event one refuses is not counted against the longer ones.
    """
    for events, seconds in rates:
        window = f"rate:{seconds}:{key}"
        if cache_usable():
            try:
                count = _count(cache, window, seconds)
            except CACHE_ERRORS as exc:
                cache_failed(exc)
                count = _count(LOCAL_COUNTS, window, seconds)
        else:
            count = _count(LOCAL_COUNTS, window, seconds)
        if count > events:
            return False
    return True


def _count(store, window: str, seconds: int) -> int:
    """Add one to the window's count (starting it, for `seconds`, if there is none) and return the count."""
    if store.add(window, 1, timeout=seconds):
        return 1
    try:
        return store.incr(window)
    except ValueError:  # the window ended between the two calls: this event starts the next one
        store.add(window, 1, timeout=seconds)
        return 1
