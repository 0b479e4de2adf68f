"""The image as uploaded, and the image as listed and shown."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ErrorDetail, NotFound

from config.exceptions import StorageUnavailable
from config.timing import timed
from users.serializers import UserSerializer

from .direct_uploads import (
    UploadGone,
    direct_upload_complete,
    direct_upload_post,
    direct_upload_start,
    local_upload_receive,
)
from .models import DirectUpload, Image
from .services import DuplicateImageError, StoredFileClaimed, image_create
from .storage import download_url

# Read-only fields derived from the file, shown beside the spec's fields.
DERIVED_FIELDS = [
    "width",
    "height",
    "format",
    "mime_type",
    "size",
    "checksum",
    "upload_checksum",
    "original_filename",
    "variants",
    "processing",
]


class DuplicateImageConflict(APIException):
    """409: IMAGE_DUPLICATES=refuse and the user already has these bytes."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "duplicate_image"

    def __init__(self, existing_id: int) -> None:
        super().__init__()
        # Set as is: APIException would turn the id into a string.
        message = ErrorDetail(f"You already have this image (id {existing_id}).", code=self.default_code)
        self.detail = {"image": [message], "existing_id": existing_id}


class StoredFileField(serializers.FileField):
    """Take an upload; show the file's URL: signed, expiring, saving under the client's filename.

    Relative (/media/...?expires=...&signature=...) for local files, an absolute presigned URL for S3.
    `new_file`: the answer to the request that stored it, whose URL no cache can hold yet.
    """

    def __init__(self, *, new_file: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.new_file = new_file

    def to_representation(self, value) -> str | None:
        if not value:
            return None
        filename = getattr(value.instance, "original_filename", "")
        with timed("sign"):
            return download_url(value.storage, value.name, filename, new=self.new_file)


class VariantSerializer(serializers.Serializer):
    """One variant, ready for srcset: its URL and the size it was made at (width and height as shown)."""

    url = serializers.URLField()
    width = serializers.IntegerField(
        allow_null=True, help_text="null only for variants made before sizes were recorded, until rebuild_variants"
    )
    height = serializers.IntegerField(allow_null=True)


class BaseImageSerializer(serializers.ModelSerializer):
    """An image as every answer shows it (upload, direct-upload completion, list, detail, webhook events): the spec's
    fields, the file's URL, what was derived from the file."""

    user = UserSerializer(read_only=True)
    image = StoredFileField()
    image_url = serializers.SerializerMethodField()
    variants = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id",
            "user",
            "image",
            "image_url",
            "title",
            "description",
            "uploaded_at",
            "updated_at",
            *DERIVED_FIELDS,
        ]
        read_only_fields = ["id", "uploaded_at", "updated_at", *DERIVED_FIELDS]

    def get_image_url(self, obj: Image) -> str | None:
        """The file's absolute URL (`image` keeps the spec's path on local storage); filled in by to_representation
        from `image`'s, so that the file's URL is signed once for both fields."""
        return None

    def to_representation(self, instance: Image) -> dict:
        with timed("answer"):
            data = super().to_representation(instance)
            data["image_url"] = self.absolute_url(data["image"]) if data["image"] else None
            return data

    def absolute_url(self, url: str) -> str:
        """The URL made absolute for the client (S3 URLs are absolute already and pass unchanged)."""
        request = self.context.get("request")
        if request is None:
            return url
        if url.startswith("/") and not url.startswith("//"):  # a path: this request's scheme and host, read once
            origin = self.context.get("_origin")
            if origin is None:
                origin = self.context["_origin"] = request.build_absolute_uri("/")[:-1]
            return origin + url
        return request.build_absolute_uri(url)

    @extend_schema_field(
        serializers.DictField(
            child=VariantSerializer(allow_null=True),
            help_text="Each configured variant (IMAGE_VARIANTS: thumbnail, medium...) by name: its URL, width and "
            "height, or null while it is not made yet.",
        )
    )
    def get_variants(self, obj: Image) -> dict[str, dict | None]:
        """Each configured variant as {url, width, height} (issue 13: srcset), or None while it is not made yet."""
        storage = obj.image.storage
        variants = {}
        for name in settings.IMAGE_VARIANTS:
            if name not in obj.variants:
                variants[name] = None
                continue
            width, height = obj.variant_sizes.get(name) or (None, None)
            with timed("sign"):
                url = self.absolute_url(storage.url(obj.variants[name]))
            variants[name] = {"url": url, "width": width, "height": height}
        return variants


class ImageUploadSerializer(BaseImageSerializer):
    """POST /api/images/upload/: a multipart image with an optional title and description."""

    image = StoredFileField(new_file=True)

    reused = False  # True when IMAGE_DUPLICATES=reuse answered with an image the user already had

    def create(self, validated_data: dict) -> Image:
        idempotency = validated_data.get("idempotency")
        try:
            return image_create(
                user=validated_data["user"],
                file=validated_data["image"],
                title=validated_data.get("title", ""),
                description=validated_data.get("description", ""),
                on_created=idempotency.record if idempotency else None,
            )
        except DjangoValidationError as exc:  # the file's checks: messages under "image"
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        except DuplicateImageError as exc:
            return self.duplicate(exc)
        except StoredFileClaimed:  # stalled past the sweeper's grace: its file is being deleted, nothing was saved
            raise StorageUnavailable("The upload took too long to be stored; send it again.") from None

    def duplicate(self, exc: DuplicateImageError) -> Image:
        """IMAGE_DUPLICATES=reuse: the image the user already has; refuse: a 409 naming it."""
        if exc.policy != "reuse":
            raise DuplicateImageConflict(exc.existing.pk) from None
        self.reused = True
        return exc.existing


class ImageSerializer(BaseImageSerializer):
    """An image as the list and detail endpoints show it; PUT and PATCH change title and description."""

    image = StoredFileField(read_only=True)

    class Meta(BaseImageSerializer.Meta):
        read_only_fields = [name for name in BaseImageSerializer.Meta.fields if name not in ("title", "description")]

    def validate(self, attrs: dict) -> dict:
        if "image" in self.initial_data:
            raise serializers.ValidationError({"image": ["The file cannot be replaced; upload a new image instead."]})
        if not self.partial:  # PUT replaces both: a field left out is emptied, as PATCH would keep it
            attrs = {"title": "", "description": "", **attrs}
        return attrs


class DirectUploadSerializer(serializers.ModelSerializer):
    """POST /api/images/uploads/: declare a file; answer where to POST it, with which fields, until when."""

    url = serializers.CharField(read_only=True, help_text="Where to POST the fields and then the file (field `file`).")

    class Meta:
        model = DirectUpload
        fields = ["id", "filename", "size", "title", "description", "url", "expires_at"]
        read_only_fields = ["id", "expires_at"]
        extra_kwargs = {
            "filename": {"write_only": True, "help_text": "The file's name on the client."},
            "size": {"write_only": True, "min_value": 1, "help_text": "The file's size in bytes."},
            "title": {"write_only": True},
            "description": {"write_only": True},
        }

    def get_fields(self) -> dict:
        fields = super().get_fields()
        # "fields" is a Serializer attribute, so this field is added here rather than declared.
        fields["fields"] = serializers.DictField(
            child=serializers.CharField(), read_only=True, help_text="Form fields to send as they are, before the file."
        )
        return fields

    def to_representation(self, instance: DirectUpload) -> dict:
        # url and fields are a signature of the upload's key, made for each answer (a repeat signs it afresh).
        post = direct_upload_post(instance)
        request = self.context.get("request")
        return {
            **super().to_representation(instance),
            "url": request.build_absolute_uri(post["url"]) if request else post["url"],  # S3's is absolute already
            "fields": post["fields"],
        }

    def validate_size(self, value: int) -> int:
        limit = settings.IMAGE_MAX_UPLOAD_SIZE
        if value > limit:
            raise serializers.ValidationError(f"The image is too large ({value} bytes); the limit is {limit} bytes.")
        return value

    def create(self, validated_data: dict) -> DirectUpload:
        idempotency = validated_data.get("idempotency")
        return direct_upload_start(
            user=validated_data["user"],
            filename=validated_data["filename"],
            size=validated_data["size"],
            title=validated_data.get("title", ""),
            description=validated_data.get("description", ""),
            on_created=idempotency.record if idempotency else None,
        )


class DirectUploadCompleteSerializer(ImageUploadSerializer):
    """POST /api/images/uploads/{id}/complete/: no input; answers the image as POST /api/images/upload/ does."""

    image = StoredFileField(read_only=True, new_file=True)

    class Meta(ImageUploadSerializer.Meta):
        read_only_fields = ImageUploadSerializer.Meta.fields

    def create(self, validated_data: dict) -> Image:
        try:
            return direct_upload_complete(validated_data["upload"])
        except DjangoValidationError as exc:  # the file's checks: messages under "image"
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        except UploadGone:  # deleted meanwhile (refused by a racing completion, swept, its owner deleted)
            raise NotFound() from None
        except StoredFileClaimed:
            raise StorageUnavailable("The upload took too long to be stored; complete it again.") from None
        except DuplicateImageError as exc:
            return self.duplicate(exc)


class LocalUploadSerializer(serializers.Serializer):
    """The local store's side of a direct upload: the signed form fields and the file, checked as S3 would."""

    key = serializers.CharField(required=False, default="")
    policy = serializers.CharField(required=False, default="")
    file = serializers.FileField(required=False, allow_empty_file=True, default=None)

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["Content-Type"] = serializers.CharField(required=False, default="")  # S3's field name
        return fields

    def create(self, validated_data: dict) -> dict:
        try:
            local_upload_receive(
                key=validated_data["key"],
                content_type=validated_data["Content-Type"],
                policy=validated_data["policy"],
                file=validated_data["file"],
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        return validated_data
