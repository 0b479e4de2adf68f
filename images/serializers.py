"""The image as uploaded, and the image as listed and shown."""
from django.conf import settings
from rest_framework import serializers

from users.serializers import UserSerializer

from .models import Image
from .validators import clean_image_upload


class StoredFileField(serializers.FileField):
    """Take an upload; show the storage's URL as it is (relative for local media, signed for S3)."""

    def to_representation(self, value) -> str | None:
        return value.url if value else None


class ImageUploadSerializer(serializers.ModelSerializer):
    """POST /api/images/upload/: a multipart image with an optional title and description."""

    image = StoredFileField()

    class Meta:
        model = Image
        fields = ["id", "image", "title", "description", "uploaded_at"]
        read_only_fields = ["id", "uploaded_at"]

    def validate_image(self, file):
        clean_image_upload(file)
        return file

    def validate_description(self, value: str) -> str:
        limit = settings.IMAGE_DESCRIPTION_MAX_LENGTH
        if len(value) > limit:
            raise serializers.ValidationError(f"Ensure this field has no more than {limit} characters.")
        return value


class ImageSerializer(serializers.ModelSerializer):
    """An image as the list and detail endpoints show it."""

    user = UserSerializer(read_only=True)
    image = StoredFileField(read_only=True)
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = ["id", "user", "image", "image_url", "title", "description", "uploaded_at", "updated_at"]
        read_only_fields = fields

    def get_image_url(self, obj: Image) -> str | None:
        """The file's absolute URL (S3 URLs are absolute already and pass through unchanged)."""
        if not obj.image:
            return None
        request = self.context.get("request")
        url = obj.image.url
        return request.build_absolute_uri(url) if request else url
