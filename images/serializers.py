"""The image as uploaded, and the image as listed and shown."""
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from users.serializers import UserSerializer

from .models import Image
from .services import image_create

# Read-only fields derived from the file, shown beside the spec's fields.
DERIVED_FIELDS = ["width", "height", "format", "mime_type", "size", "checksum", "variants", "processing"]


class StoredFileField(serializers.FileField):
    """Take an upload; show the storage's URL as it is (relative for local media, signed for S3)."""

    def to_representation(self, value) -> str | None:
        return value.url if value else None


class BaseImageSerializer(serializers.ModelSerializer):
    """What every image representation shares: the file's URL and what was derived from it."""

    image = StoredFileField()
    variants = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = ["id", "image", "title", "description", "uploaded_at", *DERIVED_FIELDS]
        read_only_fields = ["id", "uploaded_at", *DERIVED_FIELDS]

    def absolute_url(self, url: str) -> str:
        """The URL made absolute for the client (S3 URLs are absolute already and pass unchanged)."""
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    def get_variants(self, obj: Image) -> dict[str, str | None]:
        """Each configured variant's absolute URL, or None while it is not made yet."""
        storage = obj.image.storage
        return {
            name: self.absolute_url(storage.url(obj.variants[name])) if name in obj.variants else None
            for name in settings.IMAGE_VARIANTS
        }


class ImageUploadSerializer(BaseImageSerializer):
    """POST /api/images/upload/: a multipart image with an optional title and description."""

    def create(self, validated_data: dict) -> Image:
        try:
            return image_create(
                user=validated_data["user"],
                file=validated_data["image"],
                title=validated_data.get("title", ""),
                description=validated_data.get("description", ""),
            )
        except DjangoValidationError as exc:  # the file's checks: messages under "image"
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None


class ImageSerializer(BaseImageSerializer):
    """An image as the list and detail endpoints show it; PUT and PATCH change title and description."""

    user = UserSerializer(read_only=True)
    image = StoredFileField(read_only=True)
    image_url = serializers.SerializerMethodField()

    class Meta(BaseImageSerializer.Meta):
        fields = [
            "id", "user", "image", "image_url", "title", "description", "uploaded_at", "updated_at",
            *DERIVED_FIELDS,
        ]
        read_only_fields = [name for name in fields if name not in ("title", "description")]

    def validate(self, attrs: dict) -> dict:
        if "image" in self.initial_data:
            raise serializers.ValidationError({"image": ["The file cannot be replaced; upload a new image instead."]})
        return attrs

    def get_image_url(self, obj: Image) -> str | None:
        """The file's absolute URL."""
        return self.absolute_url(obj.image.url) if obj.image else None
