"""Webhook endpoints: DRF generic views over the requesting user's own endpoints and their deliveries only."""

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from config.filters import KnownQueryParameters
from users.permissions import authenticated_user

from .models import WebhookDelivery, WebhookEndpoint
from .pagination import DeliveryPagination
from .serializers import WebhookDeliverySerializer, WebhookEndpointCreateSerializer, WebhookEndpointSerializer
from .services import (
    delivery_redeliver,
    endpoint_rotate_secret,
    endpoint_test,
)

if TYPE_CHECKING:  # the views the mixins below are mixed into, for the type checker; at run time they stand alone
    _EndpointView = generics.GenericAPIView[WebhookEndpoint]
    _DeliveryView = generics.GenericAPIView[WebhookDelivery]
else:
    _EndpointView = _DeliveryView = object


CONFLICT = inline_serializer(
    "WebhookConflict", fields={"detail": serializers.CharField(), "code": serializers.CharField()}
)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENDPOINT_EXAMPLE = {
    "id": 1,
    "url": "https://example.com/hooks/images",
    "events": ["image.ready", "image.failed", "image.deleted", "upload.completed"],
    "description": "Production receiver",
    "enabled": True,
    "created_at": "2024-01-15T10:30:00Z",
    "updated_at": "2024-01-15T10:30:00Z",
    "failing_since": None,
}
DELIVERY_EXAMPLE = {
    "id": 42,
    "event": {
        "id": "msg_5f0c2a7e1b9d4c3a8e6f1d2b3c4a5e6f",
        "type": "image.ready",
        "created_at": "2024-01-15T10:35:02Z",
    },
    "state": "pending",
    "attempts": 1,
    "status_code": 500,
    "duration_ms": 83,
    "response": '{"error": "database down"}',
    "error": "",
    "last_attempt_at": "2024-01-15T10:35:02Z",
    "next_attempt_at": "2024-01-15T10:35:07Z",
    "created_at": "2024-01-15T10:35:02Z",
}


class OwnedEndpointMixin(_EndpointView):
    """Scope every query to the requesting user: another user's endpoint is a 404 by construction."""

    serializer_class: type[BaseSerializer] | None = WebhookEndpointSerializer  # views below show other things too

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular describing the view: no user
            return WebhookEndpoint.objects.none()
        return WebhookEndpoint.objects.filter(user=authenticated_user(self.request))


@extend_schema_view(
    get=extend_schema(summary="List your webhook endpoints"),
    post=extend_schema(
        summary="Register a webhook endpoint",
        description="Events are signed with the endpoint's secret (Standard Webhooks), shown in full only in this "
        "answer and in the rotation's. The URL must be https:// (in production) and reach a public address: one "
        "that resolves to a loopback, private, link-local or cloud metadata address is refused (400 under `url`).",
        responses={
            201: WebhookEndpointCreateSerializer,
            409: OpenApiResponse(CONFLICT, description="The most endpoints a user may have (`code` webhook_limit)."),
        },
        examples=[
            OpenApiExample(
                "Register",
                request_only=True,
                value={"url": "https://example.com/hooks/images", "events": ["image.ready"]},
            ),
            OpenApiExample(
                "Registered", response_only=True, status_codes=["201"], value={**ENDPOINT_EXAMPLE, "secret": SECRET}
            ),
        ],
    ),
)
class WebhookEndpointListView(OwnedEndpointMixin, generics.ListCreateAPIView):
    """GET and POST /api/webhooks/"""

    pagination_class = None  # a few endpoints at most (WEBHOOK_MAX_ENDPOINTS)
    filter_backends = [KnownQueryParameters]  # so none: ?page=2 is a 400, not the whole list again

    def get_serializer_class(self):
        return WebhookEndpointCreateSerializer if self.request.method == "POST" else WebhookEndpointSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(user=self.request.user)  # webhooks.services.endpoint_create; EndpointLimitReached: 409


@extend_schema_view(
    get=extend_schema(summary="Show a webhook endpoint"),
    patch=extend_schema(
        summary="Change a webhook endpoint",
        description="`url`, `events`, `description`, `enabled`. Enabling a disabled endpoint starts its count of "
        "failures afresh.",
    ),
    delete=extend_schema(summary="Delete a webhook endpoint", description="Its pending deliveries go with it."),
)
class WebhookEndpointDetailView(OwnedEndpointMixin, generics.RetrieveUpdateDestroyAPIView):
    """GET, PATCH and DELETE /api/webhooks/<id>/"""

    http_method_names = ["get", "patch", "delete", "head", "options"]


@extend_schema(
    summary="Rotate a webhook endpoint's secret",
    description="Answers the endpoint with its new secret. The old one keeps signing beside it for 24 hours "
    "(each delivery then carries two signatures), so receivers can switch without missing an event.",
    request=None,
    responses={200: WebhookEndpointCreateSerializer},
    examples=[OpenApiExample("Rotated", response_only=True, value={**ENDPOINT_EXAMPLE, "secret": SECRET})],
)
class WebhookRotateSecretView(OwnedEndpointMixin, generics.GenericAPIView):
    """POST /api/webhooks/<id>/rotate-secret/"""

    serializer_class = WebhookEndpointCreateSerializer

    def post(self, request: Request, *args, **kwargs) -> Response:
        endpoint = endpoint_rotate_secret(self.get_object())
        return Response(self.get_serializer(endpoint).data)


@extend_schema(
    summary="Send a test event",
    description='Sends a `webhook.test` event (`data`: `{"endpoint": <id>}`) to this endpoint alone, as any '
    "event is sent (signed, retried). Answers its delivery; follow it in the endpoint's deliveries.",
    request=None,
    responses={
        202: WebhookDeliverySerializer,
        409: OpenApiResponse(CONFLICT, description="The endpoint is disabled (`code` endpoint_disabled)."),
    },
    examples=[OpenApiExample("Queued", response_only=True, status_codes=["202"], value=DELIVERY_EXAMPLE)],
)
class WebhookTestView(OwnedEndpointMixin, generics.GenericAPIView):
    """POST /api/webhooks/<id>/test/"""

    serializer_class = WebhookDeliverySerializer
    throttle_scope = "webhooks"

    def post(self, request: Request, *args, **kwargs) -> Response:
        delivery = endpoint_test(self.get_object())  # EndpointDisabled: 409
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class OwnedDeliveryMixin(_DeliveryView):
    """The deliveries of one of the requesting user's endpoints; another user's endpoint is a 404."""

    serializer_class = WebhookDeliverySerializer

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        owned = WebhookEndpoint.objects.filter(user=authenticated_user(self.request))
        endpoint = get_object_or_404(owned, pk=self.kwargs["pk"])
        return WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")


@extend_schema_view(
    get=extend_schema(
        summary="List a webhook endpoint's deliveries",
        description="Newest first, in pages (`?limit`, default 50): the next page's address is in the `Link` header.",
        parameters=[
            OpenApiParameter(
                "Link",
                location=OpenApiParameter.HEADER,
                response=True,
                type=str,
                description='<URL of the next page>; rel="next", while there is one.',
            )
        ],
        examples=[OpenApiExample("Deliveries", response_only=True, value=[DELIVERY_EXAMPLE])],
    )
)
class WebhookDeliveryListView(OwnedDeliveryMixin, generics.ListAPIView):
    """GET /api/webhooks/<id>/deliveries/"""

    pagination_class = DeliveryPagination
    filter_backends = [KnownQueryParameters]


@extend_schema(
    summary="Redeliver",
    description="Sends the delivery's event again, with the same `webhook-id` (receivers that saw it can tell), as "
    "a new run of attempts and retries.",
    request=None,
    responses={
        202: WebhookDeliverySerializer,
        409: OpenApiResponse(CONFLICT, description="The endpoint is disabled (`code` endpoint_disabled)."),
    },
)
class WebhookRedeliverView(OwnedDeliveryMixin, generics.GenericAPIView):
    """POST /api/webhooks/<id>/deliveries/<delivery_id>/redeliver/"""

    lookup_url_kwarg = "delivery_id"
    throttle_scope = "webhooks"

    def post(self, request: Request, *args, **kwargs) -> Response:
        delivery = delivery_redeliver(self.get_object())  # EndpointDisabled: 409
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
