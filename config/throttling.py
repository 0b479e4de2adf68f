"""DRF's scoped throttle, reading its rates when a request comes, and counting locally while Redis is down."""

from django.core.cache.backends.locmem import LocMemCache
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle as DRFScopedRateThrottle

from .cache import cache_failed, cache_usable
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
        if cache_usable():
            try:
                return super().allow_request(request, view)
            except CACHE_ERRORS as exc:
                cache_failed(exc)
        self.cache = LOCAL_COUNTS
        return super().allow_request(request, view)
