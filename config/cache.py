"""The cache as an optimisation, never a dependency: while Redis is unreachable, go on without it.

After a failure the cache is left alone for CACHE_RETRY_SECONDS in this process (so a hung Redis costs one
request a timeout, not every cached lookup of every request), and the outage is logged once, not per call.
"""

import logging
import time
from typing import Any

from django.core.cache import cache

from .unavailable import CACHE_ERRORS

logger = logging.getLogger(__name__)

CACHE_RETRY_SECONDS = 5.0
_down_until = 0.0  # time.monotonic() before which this process does not try the cache


def cache_usable() -> bool:
    """Whether to try the shared cache now (False for a few seconds after it failed)."""
    return time.monotonic() >= _down_until


def cache_failed(exc: BaseException) -> None:
    """Record that the cache failed: log it once per outage, and leave it alone for a few seconds."""
    global _down_until
    if _down_until == 0.0:
        logger.warning("The cache is unavailable (%s); going on without it until it answers again.", exc)
    _down_until = time.monotonic() + CACHE_RETRY_SECONDS


def _cache_answered() -> None:
    global _down_until
    if _down_until:
        _down_until = 0.0
        logger.warning("The cache answers again.")


def cache_get(key: str, default: Any = None) -> Any:
    """cache.get, or the default while the cache is unreachable."""
    if not cache_usable():
        return default
    try:
        value = cache.get(key, default)
    except CACHE_ERRORS as exc:
        cache_failed(exc)
        return default
    _cache_answered()
    return value


def cache_set(key: str, value: Any, timeout: float) -> None:
    """cache.set, skipped while the cache is unreachable."""
    if not cache_usable():
        return
    try:
        cache.set(key, value, timeout=timeout)
    except CACHE_ERRORS as exc:
        cache_failed(exc)
