"""Project-wide views: health, a JSON answer for paths the API does not have, and the 400 and 500 handlers."""

import sys
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .cache import cache_get, cache_set
from .exceptions import unavailable_error
from .unavailable import BROKER_ERRORS, CACHE_ERRORS, STORAGE_ERRORS

OK, DEGRADED, DOWN = "ok", "degraded", "unavailable"


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return OK
    except DatabaseError:
        return DOWN


def storage_state() -> str:
    try:
        # images.storage's ImageStorage.probe (config never imports an app): a HEAD of the bucket, or the media
        # folder writable.
        default_storage.probe()  # type: ignore[attr-defined]
        return OK
    except (*STORAGE_ERRORS, OSError):
        return DOWN


def cache_state() -> str:
    """The shared cache (Redis) answers; local memory always does."""
    try:
        cache.get("health-probe")
        return OK
    except CACHE_ERRORS:
        return DOWN


def broker_state() -> str:
    """The Celery broker accepts a connection; without one (tasks run inline) there is nothing to reach."""
    from .celery import app

    if app.conf.task_always_eager:
        return OK
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0)  # one try: a refused connection answers at once
        return OK
    except (*BROKER_ERRORS, OSError):
        return DOWN


def state_cached(name: str, probe: Callable[[], str]) -> str:
    """probe(), remembered for HEALTH_PROBE_CACHE_SECONDS: a network probe every few seconds, not per hit."""
    state = cache_get(f"health:{name}")
    if state is None:
        state = probe()
        cache_set(f"health:{name}", state, settings.HEALTH_PROBE_CACHE_SECONDS)
    return state


class HealthSerializer(serializers.Serializer):
    """The state of the service and of each thing it depends on."""

    status = serializers.ChoiceField(
        choices=[OK, DEGRADED, DOWN],
        help_text="unavailable (503) when the database or the file storage is down; degraded (200) when only "
        "the cache or the broker is: requests still succeed, variants wait for the broker.",
    )
    database = serializers.ChoiceField(choices=[OK, DOWN])
    storage = serializers.ChoiceField(choices=[OK, DOWN])
    cache = serializers.ChoiceField(choices=[OK, DOWN])
    broker = serializers.ChoiceField(choices=[OK, DOWN])


class HealthView(APIView):
    """GET /api/health/: whether each dependency answers (503 when the service cannot serve requests)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "health"  # unauthenticated and reaching the database: limited per client

    @extend_schema(summary="Service health", responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request) -> Response:
        required = {"database": database_state(), "storage": state_cached("storage", storage_state)}
        optional = {"cache": cache_state(), "broker": state_cached("broker", broker_state)}
        if any(state != OK for state in required.values()):
            overall = DOWN
        elif any(state != OK for state in optional.values()):
            overall = DEGRADED
        else:
            overall = OK
        return Response(
            {"status": overall, **required, **optional},
            status=status.HTTP_503_SERVICE_UNAVAILABLE if overall == DOWN else status.HTTP_200_OK,
        )


def site_root(request: HttpRequest) -> HttpResponse:
    """/ (where `make run` points, and the admin's "View site"): a browser goes to the API's docs; any other
    client gets a JSON index of where things are."""
    if "text/html" in request.headers.get("Accept", ""):
        return HttpResponseRedirect(reverse("swagger-ui"))
    links = {
        "docs": "swagger-ui",
        "redoc": "redoc",
        "schema": "schema",
        "health": "health",
        "admin": "admin:index",
        "signup": "users:signup",
        "login": "users:login",
        "images": "images:list",
        "upload": "images:upload",
    }
    return JsonResponse(
        {
            "name": "Image Upload Service API",
            "authentication": "Authorization: Bearer <access token from login>",
            **{name: request.build_absolute_uri(reverse(route)) for name, route in links.items()},
        }
    )


@csrf_exempt
def api_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other path under /api/: a JSON 404; for a known path missing its final slash, one that names it.

    Not a redirect: a 308 with an empty body is what curl prints nothing for and exits 0 on, even with
    --fail-with-body; a 404 that names the right URL is seen by every client, whatever its method.
    """
    if not request.path_info.endswith("/"):
        try:
            found = resolve(request.path_info + "/").func is not api_not_found
        except Resolver404:
            found = False
        if found:
            query = request.META.get("QUERY_STRING")
            url = request.build_absolute_uri(request.path + "/" + (f"?{query}" if query else ""))
            detail = f"Not found. The path ends with a slash: {request.method} {request.path}/"
            return JsonResponse({"detail": detail, "code": "missing_trailing_slash", "url": url}, status=404)
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an outage of a dependency is a 503 with Retry-After; under /api/ always JSON.

    It covers what DRF's handler cannot see: errors in middleware and in views that are not DRF's.
    Django calls it while handling the exception, so sys.exc_info() holds it.
    """
    unavailable = unavailable_error(sys.exc_info()[1])
    is_api = is_api_request(request)
    if unavailable is not None:
        headers = {"Retry-After": str(unavailable.wait)}
        if is_api:
            body = {"detail": str(unavailable.detail), "code": unavailable.default_code}
            return JsonResponse(body, status=503, headers=headers)
        return HttpResponse(str(unavailable.detail), status=503, content_type="text/plain", headers=headers)
    if is_api:
        return JsonResponse({"detail": "A server error occurred."}, status=500)
    return defaults.server_error(request)


def is_api_request(request: HttpRequest) -> bool:
    # path_info, never get_host(): with a bad Host header that raises again.
    return request.path_info.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception, template_name: str = "400.html") -> HttpResponse:
    """handler400: Django's 400 page as JSON under /api/. A Host header not in ALLOWED_HOSTS is refused before any
    view runs, so DRF's handler never sees it. Elsewhere (the admin) Django's own page stays."""
    if is_api_request(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception, template_name)
