"""DRF's scoped throttle, reading its rates when a request comes, and counting locally while Redis is down;
the same counting for limits that are not a view's (within_rates)."""

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle as DRFScopedRateThrottle

from .cache import cache_failed, cache_usable
from .timing import timed
from .unavailable import CACHE_ERRORS

# Where counts go while the shared cache is unreachable: this process's own memory.
LOCAL_COUNTS = LocMemCache("throttle-counts-while-the-cache-is-down", {})


class ScopedRateThrottle(DRFScopedRateThrottle):
    """Limit views by their `throttle_scope`, at the rates of REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].

    While the shared cache (Redis) is unreachable the counts are kept in each process's own memory
    (LOCAL_COUNTS): the limits still hold per worker process, so an outage neither opens the login to
    unlimited guessing nor turns every throttled endpoint into an error. A stated choice: see README,
    "Failure modes".
    """

    @property
    def THROTTLE_RATES(self) -> dict:  # noqa: N802 (DRF's attribute name)
        return api_settings.DEFAULT_THROTTLE_RATES

    def allow_request(self, request, view) -> bool:
        with timed("throttle"):
            return self._allow_request(request, view)

    def _allow_request(self, request, view) -> bool:
        if cache_usable():
            try:
                return super().allow_request(request, view)
            except CACHE_ERRORS as exc:
                cache_failed(exc)
        self.cache = LOCAL_COUNTS
        return super().allow_request(request, view)


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
