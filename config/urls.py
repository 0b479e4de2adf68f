"""URL routes: the API under /api/ (with its OpenAPI description), the admin, and local files at signed URLs."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from .metrics import metrics_view
from .views import HealthView, api_not_found, site_root

# Outages of a dependency become a 503 with Retry-After, and errors under /api/ stay JSON.
handler500 = "config.views.server_error"
# A Host header not in ALLOWED_HOSTS, under /api/: JSON too.
handler400 = "config.views.bad_request"

urlpatterns = [
    path("", site_root, name="root"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("users.urls")),
    path("api/images/", include("images.urls")),
    path("api/webhooks/", include("webhooks.urls")),
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # Prometheus's default path; for a scrape with METRICS_TOKEN only (config.metrics).
    path("metrics", metrics_view, name="metrics"),
    # Last: anything else under /api/ is a JSON 404, a path with a newline in it too (hence [\s\S], not .).
    re_path(r"^api/(?P<path>[\s\S]*)$", api_not_found),
    # Local files, to holders of a signed URL only, DEBUG on or off (images.views.serve_media).
    re_path(r"^media/", include("images.media_urls")),
]
