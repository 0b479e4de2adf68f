"""The Idempotency-Key header on a DRF create view: a mixin, and the errors it answers."""

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from config.unavailable import DATABASE_ERRORS

from .models import IdempotencyKey
from .services import HEADER, IdempotentRequest, KeyInUse, key_from_header, request_fingerprint

REPLAYED_HEADER = "Idempotent-Replayed"

if TYPE_CHECKING:  # what the mixin is mixed into, for the type checker; at run time it stands alone
    from rest_framework.generics import CreateAPIView

    _CreateView = CreateAPIView[Any]
else:
    _CreateView = object


class IdempotentCreateMixin(_CreateView):
    """A POST sent with an Idempotency-Key answers, when repeated, what its first success created, creating nothing.

    For a CreateAPIView: it wraps `post`, so the view's `create` stays DRF's hook. The service that creates calls
    `self.idempotency.record(pk)` in its transaction (passed down by perform_create); otherwise the success is
    recorded after the answer. A repeat answers the resource as it is now (fresh URLs and tokens), from
    `idempotent_resources()`, with the first status and the header Idempotent-Replayed: true. Another request with
    the key is a 422; the same one while the first runs, a 409.
    """

    accepts_idempotency_key = True  # config.schema documents the header and its errors
    idempotency: IdempotentRequest | None = None

    def idempotency_scope(self, request: Request) -> str:
        """Whose keys: the user's, or the client address's when signed out (signup)."""
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"client:{BaseThrottle().get_ident(request)}"

    def idempotent_resources(self) -> QuerySet:
        """Where a repeat finds what the first request created: the view's own queryset unless it says otherwise."""
        return self.get_queryset()

    def post(self, request: Request, *args, **kwargs) -> Response:
        key = key_from_header(request.headers.get(HEADER))  # KeyMalformed: a 400 (config.exceptions)
        if key is None:
            return super().post(request, *args, **kwargs)
        assert request.method is not None  # None only on an HttpRequest built by hand
        fingerprint = request_fingerprint(request.method, request.path, request.data)
        self.idempotency = idempotency = IdempotentRequest(self.idempotency_scope(request), key, fingerprint)
        return self._create_once(idempotency, request, *args, **kwargs)  # KeyReused: 422; KeyInUse: 409

    def _create_once(self, idempotency: IdempotentRequest, request: Request, *args, **kwargs) -> Response:
        earlier = idempotency.earlier()
        if earlier is not None:
            return self.idempotent_replay(earlier)
        try:
            response = super().post(request, *args, **kwargs)
        except Exception:
            # A concurrent request with the key won (this one found the email taken, the upload completed...).
            if self._succeeded_concurrently(idempotency):
                raise KeyInUse() from None
            raise
        if status.is_success(response.status_code) and not idempotency.recorded:
            idempotency.record(self.created_resource_id(response), response.status_code)
        return response

    def created_resource_id(self, response: Response):
        """The id of what an answer shows (recorded after the answer, when the service did not record it)."""
        return response.data["id"]

    @staticmethod
    def _succeeded_concurrently(idempotency: IdempotentRequest) -> bool:
        try:
            return idempotency.succeeded_concurrently()
        except DATABASE_ERRORS:
            return False  # the error being raised says more

    def idempotent_replay(self, earlier: IdempotencyKey) -> Response:
        instance = self.idempotent_resources().filter(pk=earlier.resource_id).first()
        if instance is None:
            raise NotFound(f"What the first request with this {HEADER} created no longer exists.")
        serializer = self.get_serializer(instance)
        return Response(serializer.data, status=earlier.status_code, headers={REPLAYED_HEADER: "true"})
