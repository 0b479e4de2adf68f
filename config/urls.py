"""URL routes: the spec's API under /api/, the admin, and local media while DEBUG is on."""
from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest
from django.urls import include, path, re_path
from django.views.static import serve


def serve_local_media(request: HttpRequest, path: str):
    """Serve files under MEDIA_ROOT in development only; in production a web server or S3 does it."""
    if not settings.DEBUG:
        raise Http404
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("users.urls")),
    path("api/images/", include("images.urls")),
    re_path(r"^media/(?P<path>.+)$", serve_local_media, name="media"),
]
