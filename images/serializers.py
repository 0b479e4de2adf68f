"""The image as uploaded, and the image as listed and shown."""

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.timing import timed
from users.serializers import UserSerializer

from .direct_uploads import direct_upload_signature, direct_upload_start, local_put_receive, local_upload_receive
from .models import DirectUpload, Image
from .services import image_prepare, image_store

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
            return value.storage.download_url(value.name, filename, new=self.new_file)


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

    _origin: str | None = None  # this request's scheme and host, read once per answer

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
            origin = self._origin
            if origin is None:
                origin = self._origin = request.build_absolute_uri("/")[:-1]
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
        """Each configured variant as {url, width, height} (for srcset), or None while it is not made yet."""
        storage = obj.image.storage
        variants: dict[str, dict | None] = {}
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
    """POST /api/images/upload/: a multipart image with an optional title and description.

    Validation checks the file and derives the row from its bytes (images.services.image_prepare: is_valid() raises
    what it refuses); saving stores it (image_store). With IMAGE_DUPLICATES=reuse, `validated_data["prepared"]`
    may hold the image that already has these bytes: saving then stores nothing and answers it.
    """

    image = StoredFileField(new_file=True)

    def validate(self, attrs: dict) -> dict:
        attrs["prepared"] = image_prepare(
            user=self.context["request"].user,
            file=attrs["image"],
            title=attrs.get("title", ""),
            description=attrs.get("description", ""),
        )
        return attrs

    def create(self, validated_data: dict) -> Image:
        prepared = validated_data["prepared"]
        if prepared.existing is not None:
            return prepared.existing
        idempotency = validated_data.get("idempotency")
        return image_store(prepared, on_created=idempotency.record if idempotency else None)


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


# A media type of the image family, without parameters: what a signed upload's Content-Type may be.
IMAGE_CONTENT_TYPE = re.compile(r"image/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,93}")


class DirectUploadSerializer(serializers.ModelSerializer):
    """POST /api/images/uploads/: declare a file and how it will be sent; answer where to send it, how, until when."""

    method = serializers.ChoiceField(
        choices=DirectUpload.Method.choices,
        default=DirectUpload.Method.POST,
        help_text="POST (the default): a form with signed fields, then the file. PUT: the bare bytes, with the "
        "answer's headers and exactly `size` bytes (Uppy's AwsS3, mobile SDKs, curl -T).",
    )
    content_type = serializers.CharField(
        required=False,
        max_length=100,
        help_text="The Content-Type the client will send, an image/ type (a PUT's signature covers it exactly); "
        "by default the type of the filename's extension.",
    )

    class Meta:
        model = DirectUpload
        fields = ["filename", "size", "method", "content_type", "title", "description"]
        extra_kwargs = {
            "filename": {"help_text": "The file's name on the client."},
            "size": {"min_value": 1, "help_text": "The file's size in bytes (a PUT must send exactly this many)."},
        }

    def to_representation(self, instance: DirectUpload) -> dict:
        # url, fields and headers are a signature of the upload's key, made for each answer (a repeat signs afresh).
        signed = direct_upload_signature(instance)
        request = self.context.get("request")
        url = request.build_absolute_uri(signed["url"]) if request else signed["url"]  # S3's is absolute already
        answer = DirectUploadPutSerializer if instance.method == DirectUpload.Method.PUT else DirectUploadPostSerializer
        return answer({**signed, "url": url, "upload": instance}).data

    def validate_size(self, value: int) -> int:
        limit = settings.IMAGE_MAX_UPLOAD_SIZE
        if value > limit:
            raise serializers.ValidationError(f"The image is too large ({value} bytes); the limit is {limit} bytes.")
        return value

    def validate_content_type(self, value: str) -> str:
        if not IMAGE_CONTENT_TYPE.fullmatch(value):
            raise serializers.ValidationError(
                f"Not an image: the file's type is {value!r}. Only images can be uploaded (an image/ type: JPEG, "
                "PNG, GIF, WebP, HEIC or AVIF)."
            )
        return value

    def create(self, validated_data: dict) -> DirectUpload:
        idempotency = validated_data.get("idempotency")
        return direct_upload_start(
            user=validated_data["user"],
            filename=validated_data["filename"],
            size=validated_data["size"],
            method=validated_data["method"],
            content_type=validated_data.get("content_type", ""),
            title=validated_data.get("title", ""),
            description=validated_data.get("description", ""),
            allow_duplicates=validated_data.get("allow_duplicates", False),
            on_created=idempotency.record if idempotency else None,
        )


class SignedUploadSerializer(serializers.Serializer):
    """What every signed direct upload answers: its id, how to send the file, where, and until when."""

    ORDER = ("id", "method", "url", "fields", "headers", "key", "expires_at")

    id = serializers.UUIDField(source="upload.id", help_text="The upload's id, to complete it.")
    url = serializers.CharField()
    expires_at = serializers.DateTimeField(source="upload.expires_at", help_text="Send the file before this.")

    def get_fields(self) -> dict:
        fields = super().get_fields()
        return {name: fields[name] for name in self.ORDER if name in fields}


class DirectUploadPostSerializer(SignedUploadSerializer):
    """A signed POST: send every entry of `fields` as a form field, then the file as `file`, to `url`."""

    method = serializers.CharField(source="upload.method", help_text='"POST"')
    url = serializers.CharField(help_text="Where to POST the fields and then the file (field `file`).")

    def get_fields(self) -> dict:
        fields = super().get_fields()
        # "fields" is a Serializer attribute, so this field is added here rather than declared.
        fields["fields"] = serializers.DictField(
            child=serializers.CharField(), help_text="Form fields to send as they are, before the file."
        )
        return fields


class DirectUploadPutSerializer(SignedUploadSerializer):
    """A signed PUT: send exactly the declared bytes to `url` with `headers`."""

    method = serializers.CharField(source="upload.method", help_text='"PUT"')
    url = serializers.CharField(help_text="Where to PUT the file's bytes (no token: the URL is the authorisation).")
    headers = serializers.DictField(
        child=serializers.CharField(),
        help_text="Headers to send as they are (a Content-Type at least). The Content-Length must be the declared "
        "size; HTTP libraries and browsers set it themselves.",
    )
    key = serializers.CharField(
        source="upload.key", help_text="The object's key, which the service chose (Uppy's signRequest answers it)."
    )


class DirectUploadCompleteSerializer(BaseImageSerializer):
    """POST /api/images/uploads/{id}/complete/: no input; answers the image as POST /api/images/upload/ does."""

    image = StoredFileField(read_only=True, new_file=True)

    class Meta(BaseImageSerializer.Meta):
        read_only_fields = BaseImageSerializer.Meta.fields


class AdminDirectUploadSerializer(DirectUploadSerializer):
    """The admin's bulk upload signing: the API's declaration, plus the owner the staff member chose (else them)."""

    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), required=False, allow_null=True, help_text="Whose image it becomes."
    )

    class Meta(DirectUploadSerializer.Meta):
        fields = [*DirectUploadSerializer.Meta.fields, "owner"]

    def create(self, validated_data: dict) -> DirectUpload:
        owner = validated_data.pop("owner", None)
        # Staff mean to add what they drop: IMAGE_DUPLICATES governs the API's uploads only (as the admin's form).
        return super().create({**validated_data, "user": owner or validated_data["user"], "allow_duplicates": True})


class AdminDirectUploadCompleteSerializer(DirectUploadCompleteSerializer):
    """An image as the admin's bulk upload page lists it: the upload's answer, its owner and its admin page."""

    owner = serializers.EmailField(source="user.email", read_only=True)
    admin_url = serializers.SerializerMethodField()

    class Meta(DirectUploadCompleteSerializer.Meta):
        fields = [*DirectUploadCompleteSerializer.Meta.fields, "owner", "admin_url"]
        read_only_fields = fields

    def get_admin_url(self, obj: Image) -> str:
        return reverse("admin:images_image_change", args=[obj.pk])


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
        local_upload_receive(
            key=validated_data["key"],
            content_type=validated_data["Content-Type"],
            policy=validated_data["policy"],
            file=validated_data["file"],
        )
        return validated_data


class LocalPutSerializer(serializers.Serializer):
    """The local store's side of a direct upload by PUT: the signed URL's query and the request's headers."""

    # Everything as sent: local_put_receive answers a missing or altered part as S3 would (403, 411).
    key = serializers.CharField()
    expires = serializers.CharField(required=False, default="", allow_blank=True)
    length = serializers.CharField(required=False, default="", allow_blank=True)
    type = serializers.CharField(required=False, default="", allow_blank=True)
    signature = serializers.CharField(required=False, default="", allow_blank=True)
    content_length = serializers.CharField(required=False, default="", allow_blank=True)
    content_type = serializers.CharField(required=False, default="", allow_blank=True)

    def create(self, validated_data: dict) -> dict:
        etag = local_put_receive(
            key=validated_data["key"],
            expires=validated_data["expires"],
            length=validated_data["length"],
            signed_type=validated_data["type"],
            signature=validated_data["signature"],
            content_length=validated_data["content_length"],
            content_type=validated_data["content_type"],
            body=validated_data["body"],
        )
        return {**validated_data, "etag": etag}
