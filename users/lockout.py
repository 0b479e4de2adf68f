"""The admin login's lockout (django-axes), and nothing else: the API's login has its own throttle.

Failures of the admin login form are counted per (email typed, client IP) pair and per client IP
(settings: AXES_*); the failure that reaches ADMIN_LOGIN_FAILURE_LIMIT locks that pair and that IP for
the cool-off, and the right password is refused too until it ends. An email alone is never locked: a
stranger's failures cannot lock its owner out, who logs in from another address. Staff clear a lockout
early in the admin (Access attempts) or with `manage.py axes_reset_ip IP` (or `axes_reset_ip_username
IP EMAIL` for one pair).
"""

import math

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


class AdminLoginHandler(AxesDatabaseHandler):
    """Axes' database handler, blind to every login but the admin's (no rows, no queries for the API)."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender, request, user, **kwargs) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_logged_out(sender, request, user, **kwargs)


class AdminLockoutBackend(AxesStandaloneBackend):
    """Refuse a locked-out admin login before any password is checked; pass everything else on."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs
    ) -> None:
        # Without a request there is nothing to count it against (management commands, the test client's
        # login()); the admin's form always sends one.
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The email the failure counts against, in one letter case (the login ignores case)."""
    username = (credentials or {}).get("username") or request.POST.get("username")
    return username.strip().lower() if username else None


def client_ip(request: HttpRequest | Request) -> str:
    """The client's address as the API's throttles see it (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES)."""
    # DRF's stubs want a DRF Request; get_ident reads request.META alone, which Django's has too.
    return BaseThrottle().get_ident(request)  # type: ignore[arg-type]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """429 with a page saying what happened and for how long, and Retry-After."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else None
    response = render(
        request,
        "users/admin_lockout.html",
        {
            "title": "Too many failed login attempts",
            "failure_limit": get_failure_limit(request, credentials),
            "minutes": math.ceil(seconds / 60) if seconds else None,
        },
        status=429,
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
