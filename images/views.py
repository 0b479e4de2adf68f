"""Image endpoints: DRF generic views over the requesting user's own images only; local files at signed URLs."""

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe
from django.views.static import serve
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.throttling import BaseThrottle

from config.filters import KnownQueryParameters
from config.parsers import JSONParser, MultiPartParser
from idempotency.views import IdempotentCreateMixin
from users.permissions import VerifiedEmailRequired, authenticated_user
from users.schema import EXAMPLE_USER
from users.serializers import UsageSerializer

from .direct_uploads import direct_upload_complete
from .errors import DuplicateImage
from .filters import ImageFilter, ImageFilterBackend
from .models import DirectUpload, Image
from .pagination import KeysetLinkPagination
from .serializers import (
    AdminDirectUploadCompleteSerializer,
    AdminDirectUploadSerializer,
    DirectUploadCompleteSerializer,
    DirectUploadPostSerializer,
    DirectUploadPutSerializer,
    DirectUploadSerializer,
    ImageSerializer,
    ImageUploadSerializer,
    LocalPutSerializer,
    LocalUploadSerializer,
)
from .services import image_delete
from .storage import image_storage, media_url_is_valid, stored_content_type

if TYPE_CHECKING:  # what the mixins below are mixed into, for the type checker; at run time they stand alone
    from rest_framework.permissions import _PermissionClass

    _ImageView = generics.GenericAPIView[Image]
else:
    _ImageView = object


class OwnedImageMixin(_ImageView):
    """Scope every query to the requesting user: another user's image is a 404 by construction."""

    serializer_class: type[BaseSerializer] | None = ImageSerializer
    uses_file_storage = True  # every image view reaches the store (URLs, files): a 503 when it is down

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular describing the view: no user
            return Image.objects.none()
        return Image.objects.filter(user=authenticated_user(self.request)).select_related("user")


# Examples from the spec's "Image Endpoints", with the fields the service adds.
# A portrait phone photo: stored 4032 x 3024 with EXIF orientation 6, shown (and recorded) 3024 x 4032.
DERIVED_EXAMPLE = {
    "width": 3024,
    "height": 4032,
    "format": "JPEG",
    "mime_type": "image/jpeg",
    "size": 3145728,
    "checksum": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "upload_checksum": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
    "original_filename": "IMG_0001.jpg",
}
SIGNED = "?expires=1705318200&signature=3q2-7wAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
FILE_QUERY = "?response-content-disposition=inline%3B+filename%3D%22IMG_0001.jpg%22&" + SIGNED[1:]
SPEC_IMAGE = {
    "id": 1,
    "user": EXAMPLE_USER,
    "image": "/media/images/1/uuid-filename.jpg" + FILE_QUERY,
    "image_url": "http://localhost:8000/media/images/1/uuid-filename.jpg" + FILE_QUERY,
    "title": "My Image",
    "description": "A beautiful landscape",
    "uploaded_at": "2024-01-15T10:35:00Z",
    "updated_at": "2024-01-15T10:35:00Z",
    **DERIVED_EXAMPLE,
    "variants": {
        "thumbnail": {
            "url": "http://localhost:8000/media/images/1/uuid-filename.thumbnail.webp" + SIGNED,
            "width": 192,
            "height": 256,
        },
        "medium": {
            "url": "http://localhost:8000/media/images/1/uuid-filename.medium.webp" + SIGNED,
            "width": 768,
            "height": 1024,
        },
    },
    "processing": "ready",
}
# The upload answers every field the detail does (the spec's first, then the service's).
UPLOADED_IMAGE = {
    "id": 1,
    "user": EXAMPLE_USER,
    "image": "/media/images/1/uuid-filename.jpg" + FILE_QUERY,
    "image_url": "http://localhost:8000/media/images/1/uuid-filename.jpg" + FILE_QUERY,
    "title": "My Image",
    "description": "A beautiful landscape",
    "uploaded_at": "2024-01-15T10:35:00Z",
    "updated_at": "2024-01-15T10:35:00Z",
    **DERIVED_EXAMPLE,
    "variants": {"thumbnail": None, "medium": None},
    "processing": "pending",
}
DUPLICATE_ERROR = inline_serializer(
    "DuplicateImageError",
    fields={
        "image": serializers.ListField(child=serializers.CharField()),
        "existing_id": serializers.IntegerField(help_text="The id of the image that has these bytes."),
    },
)
QUOTA_ERROR = inline_serializer(
    "QuotaExceeded",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.CharField(help_text='"quota_exceeded"'),
        "usage": UsageSerializer(),
        "size": serializers.IntegerField(help_text="Bytes this upload would add."),
    },
)
UPLOAD_CONFLICT = PolymorphicProxySerializer(
    "UploadConflict", serializers=[DUPLICATE_ERROR, QUOTA_ERROR], resource_type_field_name=None
)
QUOTA_EXAMPLE = OpenApiExample(
    "Over the quota",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "This upload (3.0 MB) would exceed your storage quota: 98.1 MB of 100.0 MB used.",
        "code": "quota_exceeded",
        "usage": {"bytes": 102862848, "images": 41, "quota_bytes": 104857600},
        "size": 3145728,
    },
)


@extend_schema_view(
    post=extend_schema(
        summary="Upload an image",
        description="IMAGE_DUPLICATES decides what bytes the user already has give: `allow` (the default) a new "
        "image (201), `reuse` the existing image (200), `refuse` a 409 naming it.",
        responses={
            201: ImageUploadSerializer,
            200: OpenApiResponse(
                ImageUploadSerializer,
                description="IMAGE_DUPLICATES=reuse: the image that already has these bytes; nothing new was stored.",
            ),
            409: OpenApiResponse(
                UPLOAD_CONFLICT,
                description="IMAGE_DUPLICATES=refuse: the user already has "
                "these bytes (`existing_id`); or over the storage quota (`code` quota_exceeded, with "
                "the usage). Nothing was stored.",
            ),
        },
        examples=[
            OpenApiExample("Uploaded", response_only=True, status_codes=["201"], value=UPLOADED_IMAGE),
            OpenApiExample(
                "Already there",
                response_only=True,
                status_codes=["200"],
                value={**UPLOADED_IMAGE, "variants": SPEC_IMAGE["variants"], "processing": "ready"},
            ),
            OpenApiExample(
                "Refused duplicate",
                response_only=True,
                status_codes=["409"],
                value={
                    "image": ["You already have this image (id 1)."],
                    "existing_id": 1,
                },
            ),
            QUOTA_EXAMPLE,
        ],
    )
)
class ImageUploadView(IdempotentCreateMixin, OwnedImageMixin, generics.CreateAPIView):
    """POST /api/images/upload/: the serializer's validation checks the file (images.services.image_prepare), its
    save stores it (image_store)."""

    serializer_class = ImageUploadSerializer
    parser_classes = [MultiPartParser, FormParser]
    media_type_hint = 'Send multipart/form-data with the file in an "image" field (curl -F "image=@photo.jpg").'
    # REQUIRE_VERIFIED_EMAIL: a clear 403 until the owner has verified the email address.
    permission_classes: "Sequence[_PermissionClass]" = [IsAuthenticated, VerifiedEmailRequired]
    throttle_scope = "upload"

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save(user=request.user, idempotency=self.idempotency)
        if serializer.validated_data["prepared"].existing is not None:  # IMAGE_DUPLICATES=reuse: nothing created
            return Response(serializer.data, status=status.HTTP_200_OK)
        return Response(
            serializer.data, status=status.HTTP_201_CREATED, headers=self.get_success_headers(serializer.data)
        )


class StoreCheckedDestroyMixin:
    """Deletion that answers 503 and changes nothing while the store is unreachable."""

    def perform_destroy(self, instance: Image) -> None:
        image_delete(instance)


@extend_schema_view(
    get=extend_schema(
        summary="List your images",
        examples=[OpenApiExample("Images", response_only=True, value=[SPEC_IMAGE])],
        parameters=[
            OpenApiParameter(
                "Link",
                location=OpenApiParameter.HEADER,
                response=True,
                type=str,
                description='With ?limit: <URL of the next page>; rel="next", while there is one.',
            ),
            OpenApiParameter(
                "X-Total-Count",
                location=OpenApiParameter.HEADER,
                response=True,
                type=int,
                description="With ?count=true: how many images match.",
            ),
        ],
    )
)
class ImageListView(OwnedImageMixin, generics.ListAPIView):
    """GET /api/images/: the user's images, newest first; optional search, date range, ordering, paging."""

    filter_backends = [KnownQueryParameters, ImageFilterBackend]
    filterset_class = ImageFilter
    pagination_class = KeysetLinkPagination


@extend_schema_view(
    get=extend_schema(
        summary="Show one image", examples=[OpenApiExample("Image", response_only=True, value=SPEC_IMAGE)]
    ),
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


@require_safe
def serve_media(request: HttpRequest, path: str) -> HttpResponseBase:
    """GET /media/<path>?expires=...&signature=...: a local file, to the holder of its signed URL only.

    Local files are as private as S3 objects, DEBUG on or off. The bare path, an expired URL
    or an altered one is a 403, as S3 answers. With MEDIA_X_ACCEL_REDIRECT nginx sends the file.
    """
    storage = image_storage()
    if not storage.serves_signed_media:
        raise Http404  # files live elsewhere (S3): nothing is served from here
    if not media_url_is_valid(path, request.GET):
        return HttpResponseForbidden(
            "This file URL is unsigned, expired or altered (or was signed before the server's SECRET_KEY changed): "
            "fetch the image again for a fresh one.",
            content_type="text/plain",
        )
    response: HttpResponseBase
    if settings.MEDIA_X_ACCEL_REDIRECT:
        response = HttpResponse()  # nginx sends the file, and answers Range requests itself
        response["X-Accel-Redirect"] = settings.MEDIA_X_ACCEL_REDIRECT.rstrip("/") + "/" + quote(path)
    else:
        served = serve(request, path, document_root=storage.path(""))
        response = media_range(request, served, storage.path(path)) if isinstance(served, FileResponse) else served
    response["Content-Type"] = stored_content_type(path)
    if disposition := request.GET.get("response-content-disposition"):  # signed with the rest
        response["Content-Disposition"] = disposition
    response["Cache-Control"] = "private"
    return response


# One range of bytes (RFC 9110, 14.1.2): "bytes=first-last", "bytes=first-" or "bytes=-suffix length".
SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def media_range(request: HttpRequest, response: FileResponse, path: str) -> HttpResponseBase:
    """Answer a Range request for a local file with its part (206), or 416 when the range starts past its end.

    A single range is served; several ranges, a malformed header or an If-Range that no longer matches get
    the whole file (200), as RFC 9110 allows. Browsers and video-like clients resume and seek this way.
    """
    response["Accept-Ranges"] = "bytes"
    wanted = SINGLE_RANGE.fullmatch(request.headers.get("Range", "").replace(" ", ""))
    if_range = request.headers.get("If-Range")
    if wanted is None or not any(wanted.groups()) or (if_range is not None and if_range != response["Last-Modified"]):
        return response
    first, last = wanted.groups()
    if first and last and int(last) < int(first):
        return response  # not a valid range: ignored
    size = int(response["Content-Length"])
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:  # the last `last` bytes
        start, end = size - min(int(last), size), size - 1
    response.close()
    if start >= size:  # past the end, or a suffix of no bytes
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    with open(path, "rb") as file:  # an image: at most IMAGE_MAX_UPLOAD_SIZE bytes
        file.seek(start)
        part = HttpResponse(file.read(end - start + 1), status=206)
    part["Content-Range"] = f"bytes {start}-{end}/{size}"
    part["Accept-Ranges"] = "bytes"
    part["Last-Modified"] = response["Last-Modified"]
    return part


# --- Direct uploads: sign, the client POSTs or PUTs to the store, complete -----------------------

DIRECT_UPLOAD_EXAMPLE = {
    "id": "6f1c3b1e-8a52-4c9e-9d5e-2f7a0c1b9e44",
    "method": "POST",
    "url": "https://my-bucket.s3.amazonaws.com/",
    "fields": {
        "Content-Type": "image/jpeg",
        "key": "uploads/1/0b6e7f52-3c1d-4e8a-9f0a-1d2c3b4a5e6f_beach.jpg",
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": "AKIA.../20240115/us-east-1/s3/aws4_request",
        "x-amz-date": "20240115T103000Z",
        "policy": "eyJleHBpcmF0aW9uIjog...",
        "x-amz-signature": "5d6c...",
    },
    "expires_at": "2024-01-15T10:40:00Z",
}
DIRECT_UPLOAD_PUT_EXAMPLE = {
    "id": "6f1c3b1e-8a52-4c9e-9d5e-2f7a0c1b9e44",
    "method": "PUT",
    "url": "https://my-bucket.s3.amazonaws.com/uploads/1/0b6e7f52-3c1d-4e8a-9f0a-1d2c3b4a5e6f_beach.jpg"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA...%2F20240115%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20240115T103000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"
    "&X-Amz-Signature=5d6c...",
    "headers": {"Content-Type": "image/jpeg"},
    "key": "uploads/1/0b6e7f52-3c1d-4e8a-9f0a-1d2c3b4a5e6f_beach.jpg",
    "expires_at": "2024-01-15T10:35:00Z",
}


@extend_schema_view(
    post=extend_schema(
        summary="Start a direct upload",
        description=(
            "Declare a file (name and size in bytes) and how it will be sent; the answer says where to send it, "
            "before `expires_at`. `method` POST (the default): send every entry of `fields` as a form field, then "
            "the file as the field `file` (multipart/form-data), to `url`; the store itself refuses another key, a "
            "body outside 1 byte to the declared size and a Content-Type that is not image/*. `method` PUT: send "
            "exactly `size` bytes to `url` with `headers` (its Content-Type); the signature covers the key, that "
            "Content-Length and that Content-Type, so the store itself refuses anything else. Either way, then call "
            "the upload's complete operation. Until then the upload holds its declared size of the storage quota."
        ),
        request=DirectUploadSerializer,
        responses={
            201: PolymorphicProxySerializer(
                component_name="DirectUpload",
                serializers={"POST": DirectUploadPostSerializer, "PUT": DirectUploadPutSerializer},
                resource_type_field_name="method",
            ),
            409: OpenApiResponse(QUOTA_ERROR, description="The declared size would pass the storage quota."),
        },
        examples=[
            OpenApiExample(
                "Start", request_only=True, value={"filename": "beach.jpg", "size": 3145728, "title": "Beach"}
            ),
            OpenApiExample(
                "Start a PUT",
                request_only=True,
                value={"filename": "beach.jpg", "size": 3145728, "method": "PUT", "content_type": "image/jpeg"},
            ),
            OpenApiExample("Signed", response_only=True, status_codes=["201"], value=DIRECT_UPLOAD_EXAMPLE),
            OpenApiExample("Signed PUT", response_only=True, status_codes=["201"], value=DIRECT_UPLOAD_PUT_EXAMPLE),
            QUOTA_EXAMPLE,
        ],
    )
)
class DirectUploadView(IdempotentCreateMixin, generics.CreateAPIView):
    """POST /api/images/uploads/: sign a direct upload of one file to the store."""

    serializer_class = DirectUploadSerializer
    # The proxied upload's permissions, whatever they become (e.g. a verified email): one rule for both ways.
    permission_classes = ImageUploadView.permission_classes
    parser_classes = [JSONParser]
    throttle_scope = "upload"
    uses_file_storage = True

    def perform_create(self, serializer: BaseSerializer) -> None:
        # images.direct_uploads.direct_upload_start
        serializer.save(user=self.request.user, idempotency=self.idempotency)

    def idempotent_resources(self):
        # Signed again, while still open.
        return DirectUpload.objects.filter(user=authenticated_user(self.request), image=None)


@extend_schema_view(
    post=extend_schema(
        summary="Complete a direct upload",
        description=(
            "Verify the file that arrived in the store with the rules of the upload endpoint (a worker does, when one "
            "runs, while this waits for its verdict), create the image and "
            "answer it as the upload endpoint does. Completing again answers the same image. Invalid bytes: 400 "
            "under `image`, and the upload and its file are deleted. 409 `upload_not_received` while nothing has "
            "arrived, 410 once the upload expired without a file, 409 `quota_exceeded` over the quota (the upload "
            "stays until it expires: delete images and complete again). IMAGE_DUPLICATES applies as on the upload "
            "endpoint."
        ),
        request=None,
        responses={
            201: DirectUploadCompleteSerializer,
            200: OpenApiResponse(
                DirectUploadCompleteSerializer,
                description="IMAGE_DUPLICATES=reuse: the image "
                "that already has these bytes; the upload and its file are deleted.",
            ),
            409: OpenApiResponse(
                PolymorphicProxySerializer(
                    "CompleteConflict",
                    serializers=[
                        QUOTA_ERROR,
                        DUPLICATE_ERROR,
                        inline_serializer(
                            "UploadNotReceived",
                            fields={
                                "detail": serializers.CharField(),
                                "code": serializers.CharField(help_text='"upload_not_received"'),
                            },
                        ),
                    ],
                    resource_type_field_name=None,
                ),
                description="Over the storage quota (the upload stays); IMAGE_DUPLICATES=refuse and the user already "
                "has these bytes (the upload is deleted); or nothing has arrived yet.",
            ),
        },
        examples=[QUOTA_EXAMPLE],
    )
)
class DirectUploadCompleteView(IdempotentCreateMixin, generics.CreateAPIView):
    """POST /api/images/uploads/{id}/complete/: verify the uploaded file and create its image (an action on the
    upload: no body; the serializer only answers the image)."""

    serializer_class = DirectUploadCompleteSerializer
    permission_classes = ImageUploadView.permission_classes
    parser_classes = [JSONParser]
    uses_file_storage = True
    error_statuses = ("410",)  # expired before its file arrived
    # Not throttled: each upload is verified at most once (a completed one answers from its row), and
    # signing, which makes uploads, is.

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DirectUpload.objects.none()
        # Completion reads what it needs, under a lock.
        return DirectUpload.objects.filter(user=authenticated_user(self.request))

    def create(self, request: Request, *args, **kwargs) -> Response:
        request.data  # noqa: B018  (no body is needed, but one sent must parse: a malformed one is a 400)
        answer: int
        try:
            image, answer = direct_upload_complete(self.get_object()), status.HTTP_201_CREATED
        except DuplicateImage as exc:
            if exc.policy != "reuse":
                raise
            image, answer = exc.existing, status.HTTP_200_OK  # IMAGE_DUPLICATES=reuse: that image, nothing created
        return Response(self.get_serializer(image).data, status=answer)

    def idempotent_resources(self):
        # Completing again answers the image, not the upload.
        return Image.objects.filter(user=authenticated_user(self.request))


@extend_schema(exclude=True)  # the store's side of step 2, as S3's POST is: its URL comes in each signed upload
class LocalDirectUploadView(generics.GenericAPIView):
    """POST /api/images/uploads/local/: the local store accepting a direct upload's POST, as S3 would.

    Authorised by the signed policy in the form, not by a token (a browser form posts it as it would to S3).
    """

    serializer_class = LocalUploadSerializer
    permission_classes = [AllowAny]
    authentication_classes = []
    parser_classes = [MultiPartParser]
    uses_file_storage = True

    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()  # images.direct_uploads.local_upload_receive
        return Response(status=status.HTTP_204_NO_CONTENT)  # S3's answer to a POST without success_action_status


@extend_schema(exclude=True)  # the store's side of step 2, as S3's PUT is: its URL comes in each signed upload
class LocalDirectUploadPutView(generics.GenericAPIView):
    """PUT /api/images/uploads/local/{key}?expires=...&length=...&type=...&signature=...: the local store
    accepting a direct upload's PUT, as S3 would: 200 with the ETag of what it stored.

    Authorised by the signed URL, not by a token; a browser on an allowed origin (CORS_ALLOWED_ORIGINS) may send
    it, and read the ETag (CORS_EXPOSE_HEADERS), as S3's bucket CORS rule lets it.
    """

    serializer_class = LocalPutSerializer
    permission_classes = [AllowAny]
    authentication_classes = []
    parser_classes = []  # the body is the file's bytes, streamed to the store by the serializer's save
    uses_file_storage = True

    def put(self, request: Request, key: str) -> Response:
        sent = {
            **request.query_params.dict(),
            "key": key,
            "content_length": request.headers.get("Content-Length", ""),
            "content_type": request.headers.get("Content-Type", ""),
        }
        serializer = self.get_serializer(data=sent)
        serializer.is_valid(raise_exception=True)
        received = serializer.save(body=request.stream)  # images.direct_uploads.local_put_receive
        return Response(status=status.HTTP_200_OK, headers={"ETag": received["etag"]})


# --- The admin's bulk upload: the same signing and completion, for staff in their admin session ---------------


class StaffMayAddImages(BasePermission):
    """Active staff whom the admin lets add images (its own rule for the add form)."""

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        return bool(user and user.is_active and user.is_staff and user.has_perm("images.add_image"))


class AdminSessionMixin:
    """The admin's login (a session, with its CSRF token), staff who may add images, no throttle; not in the API's
    schema. ImageAdmin mounts these views under its own URLs."""

    authentication_classes: Sequence[type[BaseAuthentication]] = [SessionAuthentication]
    permission_classes: "Sequence[_PermissionClass]" = [StaffMayAddImages]
    throttle_classes: Sequence[type[BaseThrottle]] = []


@extend_schema(exclude=True)
class AdminDirectUploadView(AdminSessionMixin, DirectUploadView):
    """POST /admin/images/image/upload/sign/: sign a direct upload for the owner chosen, or for the staff member."""

    serializer_class = AdminDirectUploadSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(user=self.request.user, idempotency=self.idempotency)

    def idempotent_resources(self):
        return DirectUpload.objects.filter(image=None)


@extend_schema(exclude=True)
class AdminDirectUploadCompleteView(AdminSessionMixin, DirectUploadCompleteView):
    """POST /admin/images/image/upload/{id}/complete/: complete an upload signed in the admin."""

    serializer_class = AdminDirectUploadCompleteSerializer

    def get_queryset(self):
        return DirectUpload.objects.select_related("user")

    def idempotent_resources(self):
        return Image.objects.select_related("user")


@extend_schema(exclude=True)
class AdminUploadedImagesView(AdminSessionMixin, generics.ListAPIView):
    """GET /admin/images/image/upload/images/?id=1&id=2: those images as the bulk upload page shows them."""

    serializer_class = AdminDirectUploadCompleteSerializer
    uses_file_storage = True

    def get_queryset(self):
        ids = serializers.ListField(child=serializers.IntegerField(), max_length=100).run_validation(
            self.request.query_params.getlist("id")
        )
        return Image.objects.filter(pk__in=ids).select_related("user").order_by("pk")
