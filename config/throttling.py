"""DRF's scoped throttle, reading its rates when a request comes rather than once at import."""
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle as DRFScopedRateThrottle


class ScopedRateThrottle(DRFScopedRateThrottle):
    """Limit views by their `throttle_scope`, at the rates of REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]."""

    @property
    def THROTTLE_RATES(self) -> dict:  # noqa: N802 (DRF's attribute name)
        return api_settings.DEFAULT_THROTTLE_RATES
