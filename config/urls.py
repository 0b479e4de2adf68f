"""URL routes: the API under /api/ (with its OpenAPI description), the admin, and local media while DEBUG is on."""
from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from .views import HealthView, api_not_found


def serve_local_media(request: HttpRequest, path: str):
    """Serve files under MEDIA_ROOT in development only; in production a web server or S3 does it."""
    if not settings.DEBUG:
        raise Http404
    return serve(request, path, document_root=settings.MEDIA_ROOT)


# Outages of a dependency become a 503 with Retry-After, and errors under /api/ stay JSON.
handler500 = "config.views.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("users.urls")),
    path("api/images/", include("images.urls")),
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    re_path(r"^api/(?P<path>.*)$", api_not_found),  # last: anything else under /api/ is a JSON 404
    re_path(r"^media/(?P<path>.+)$", serve_local_media, name="media"),
]
