"""Image endpoints: DRF generic views over the requesting user's own images only."""
from rest_framework import generics
from rest_framework.parsers import FormParser, MultiPartParser

from .models import Image
from .serializers import ImageSerializer, ImageUploadSerializer


class OwnedImageMixin:
    """Scope every query to the requesting user: another user's image is a 404 by construction."""

    serializer_class = ImageSerializer

    def get_queryset(self):
        return Image.objects.filter(user=self.request.user).select_related("user")


class ImageUploadView(OwnedImageMixin, generics.CreateAPIView):
    """POST /api/images/upload/"""

    serializer_class = ImageUploadSerializer
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "upload"

    def perform_create(self, serializer: ImageUploadSerializer) -> None:
        image = serializer.save(user=self.request.user)
        # Without a broker the variants were made inline as the row committed: show them.
        image.refresh_from_db(fields=["variants", "processing"])


class ImageListView(OwnedImageMixin, generics.ListAPIView):
    """GET /api/images/: the user's images, newest first."""


class ImageDetailView(OwnedImageMixin, generics.RetrieveAPIView):
    """GET /api/images/<id>/"""


class ImageDeleteView(OwnedImageMixin, generics.DestroyAPIView):
    """DELETE /api/images/<id>/delete/: the file goes once the deletion commits (see signals.py)."""

    def perform_destroy(self, instance: Image) -> None:
        # Reach the store before touching the row: when it is down the client gets a 503 and keeps
        # both row and file, instead of a deleted row whose file can no longer be removed.
        instance.image.storage.exists(instance.image.name)
        instance.delete()
