"""Image endpoints: DRF generic views over the requesting user's own images only."""
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from users.schema import EXAMPLE_USER

from .filters import ImageFilter
from .models import Image
from .pagination import KeysetLinkPagination
from .serializers import ImageSerializer, ImageUploadSerializer
from .services import image_delete


class OwnedImageMixin:
    """Scope every query to the requesting user: another user's image is a 404 by construction."""

    serializer_class = ImageSerializer
    uses_file_storage = True  # every image view reaches the store (URLs, files): a 503 when it is down

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular describing the view: no user
            return Image.objects.none()
        return Image.objects.filter(user=self.request.user).select_related("user")


# Examples from the spec (seed-readme.md, "Image Endpoints"), with the fields the service adds.
DERIVED_EXAMPLE = {
    "width": 4000, "height": 3000, "format": "JPEG", "mime_type": "image/jpeg", "size": 3145728,
    "checksum": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}
SPEC_IMAGE = {
    "id": 1, "user": EXAMPLE_USER, "image": "/media/images/1/uuid-filename.jpg",
    "image_url": "http://localhost:8000/media/images/1/uuid-filename.jpg", "title": "My Image",
    "description": "A beautiful landscape", "uploaded_at": "2024-01-15T10:35:00Z",
    "updated_at": "2024-01-15T10:35:00Z", **DERIVED_EXAMPLE,
    "variants": {"thumbnail": "http://localhost:8000/media/images/1/uuid-filename.thumbnail.webp",
                 "medium": "http://localhost:8000/media/images/1/uuid-filename.medium.webp"},
    "processing": "ready",
}


@extend_schema_view(post=extend_schema(summary="Upload an image", examples=[
    OpenApiExample("Uploaded", response_only=True, status_codes=["201"], value={
        "id": 1, "image": "/media/images/1/uuid-filename.jpg", "title": "My Image",
        "description": "A beautiful landscape", "uploaded_at": "2024-01-15T10:35:00Z", **DERIVED_EXAMPLE,
        "variants": {"thumbnail": None, "medium": None}, "processing": "pending",
    }),
]))
class ImageUploadView(OwnedImageMixin, generics.CreateAPIView):
    """POST /api/images/upload/"""

    serializer_class = ImageUploadSerializer
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "upload"

    def perform_create(self, serializer: ImageUploadSerializer) -> None:
        serializer.save(user=self.request.user)  # images.services.image_create


class StoreCheckedDestroyMixin:
    """Deletion that answers 503 and changes nothing while the store is unreachable."""

    def perform_destroy(self, instance: Image) -> None:
        image_delete(instance)


@extend_schema_view(get=extend_schema(
    summary="List your images",
    examples=[OpenApiExample("Images", response_only=True, value=[SPEC_IMAGE])],
    parameters=[
        OpenApiParameter("Link", location=OpenApiParameter.HEADER, response=True, type=str,
                         description='With ?limit: <URL of the next page>; rel="next", while there is one.'),
        OpenApiParameter("X-Total-Count", location=OpenApiParameter.HEADER, response=True, type=int,
                         description="With ?count=true: how many images match."),
    ],
))
class ImageListView(OwnedImageMixin, generics.ListAPIView):
    """GET /api/images/: the user's images, newest first; optional search, date range, ordering, paging."""

    filter_backends = [DjangoFilterBackend]
    filterset_class = ImageFilter
    pagination_class = KeysetLinkPagination


@extend_schema_view(
    get=extend_schema(summary="Show one image",
                      examples=[OpenApiExample("Image", response_only=True, value=SPEC_IMAGE)]),
    put=extend_schema(summary="Replace title and description"),
    patch=extend_schema(summary="Change title or description"),
    delete=extend_schema(summary="Delete an image"),
)
class ImageDetailView(OwnedImageMixin, StoreCheckedDestroyMixin, generics.RetrieveUpdateDestroyAPIView):
    """GET, PUT, PATCH (title and description) and DELETE /api/images/<id>/"""

    parser_classes = [JSONParser, MultiPartParser, FormParser]


@extend_schema_view(delete=extend_schema(summary="Delete an image (the spec's path)"))
class ImageDeleteView(OwnedImageMixin, StoreCheckedDestroyMixin, generics.DestroyAPIView):
    """DELETE /api/images/<id>/delete/ (the spec's path)."""
