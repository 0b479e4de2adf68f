"""/media/: local files at their signed URLs (mounted by config.urls)."""

from django.urls import re_path

from .views import serve_media

urlpatterns = [re_path(r"^(?P<path>.+)$", serve_media, name="media")]
