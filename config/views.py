"""Project-wide API views: health, and a JSON answer for paths the API does not have."""
import os
from pathlib import Path

from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from storages.backends.s3 import S3Storage

from .exceptions import STORAGE_ERRORS

OK, DOWN = "ok", "unavailable"


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return OK
    except DatabaseError:
        return DOWN


def storage_state() -> str:
    storage = default_storage
    try:
        if isinstance(storage, S3Storage):
            # Reachable, credentials accepted, bucket there: one HEAD request.
            storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)
            return OK
        # Local disk: the folder, or the one it will be made in, must be writable.
        location = Path(storage.location)
        while not location.exists():
            location = location.parent
        return OK if location.is_dir() and os.access(location, os.W_OK) else DOWN
    except (*STORAGE_ERRORS, OSError):
        return DOWN


class HealthSerializer(serializers.Serializer):
    """The state of the service and of each thing it depends on."""

    status = serializers.ChoiceField(choices=[OK, DOWN])
    database = serializers.ChoiceField(choices=[OK, DOWN])
    storage = serializers.ChoiceField(choices=[OK, DOWN])


class HealthView(APIView):
    """GET /api/health/: whether the database and the file storage answer (503 naming what does not)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(summary="Service health", responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request) -> Response:
        checks = {"database": database_state(), "storage": storage_state()}
        healthy = all(state == OK for state in checks.values())
        return Response(
            {"status": OK if healthy else DOWN, **checks},
            status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


@csrf_exempt
def api_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other path under /api/: a JSON 404, or for a known path missing its slash a 308 to it
    (unlike Django's APPEND_SLASH redirect, a 308 keeps the method and the body)."""
    if not request.path_info.endswith("/"):
        try:
            found = resolve(request.path_info + "/").func is not api_not_found
        except Resolver404:
            found = False
        if found:
            query = request.META.get("QUERY_STRING")
            response = HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
            response.status_code = 308
            return response
    return JsonResponse({"detail": "Not found."}, status=404)
