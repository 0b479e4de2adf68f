"""The OpenAPI description: drf-spectacular's, plus the error answers each endpoint can give.

Errors keep DRF's shapes (the spec's "API Response Formats"): `{"detail": "..."}`, or messages under each
field's name for a 400.

It describes what a client should send, which is narrower than what the service accepts ("The schema
makes working SDKs"): one request content type per operation, bodies required, and no security requirement
on what needs no token. Generators (openapi-python-client, openapi-typescript) build working clients from it.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework_simplejwt.views import TokenViewBase

from .filters import KnownQueryParameters

DETAIL_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": 'Messages under each field\'s or parameter\'s name, e.g. {"image": ["..."]}; or a "detail".',
    "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]},
}
SCHEMAS = {"Error": DETAIL_ERROR, "FieldErrors": FIELD_ERRORS}
ERRORS = {
    "400": ("Invalid input: messages under each field's name.", "FieldErrors"),
    "401": ("Missing, invalid or expired credentials.", "Error"),
    "403": ("Not allowed: see the detail (e.g. the email address must be verified first).", "Error"),
    "404": (
        "Not found, or another user's; or, repeated with an Idempotency-Key, what the first request created is gone.",
        "Error",
    ),
    "410": ("The upload expired before its file arrived.", "Error"),
    "413": ("The request body is too large.", "Error"),
    "409": ("A request with this Idempotency-Key is still being processed: see the Retry-After header.", "Error"),
    "415": ("Unsupported Content-Type.", "Error"),
    "422": ("This Idempotency-Key was used with another request.", "Error"),
    "429": ("Too many requests: see the Retry-After header.", "Error"),
    "503": ("The file storage is unavailable.", "Error"),
}


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Any unique string of yours (a UUID): repeating the request with it answers what the first success "
    "created (with the header Idempotent-Replayed: true) and creates nothing. Kept IDEMPOTENCY_KEY_TTL_HOURS (24). "
    "The key with another request is a 422; while the first still runs, a 409.",
)


# On every answer of a throttled operation (config.throttling), the 429 included.
RATE_LIMIT_HEADERS = [
    OpenApiParameter(
        "RateLimit-Policy",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=True,
        description='The limit (IETF httpapi RateLimit headers draft): "scope";q=requests;w=seconds of the window, '
        'e.g. "login";q=10;w=60.',
    ),
    OpenApiParameter(
        "RateLimit",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=True,
        description='Where the client stands: "scope";r=requests left;t=seconds until one is free again, '
        'e.g. "login";r=7;t=42.',
    ),
]


class ServiceAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, documenting the errors an operation can answer."""

    def get_override_parameters(self) -> list:
        parameters = super().get_override_parameters()
        if self.accepts_idempotency_key():
            parameters = [*parameters, IDEMPOTENCY_KEY]
        if self.is_throttled():
            parameters = [*parameters, *RATE_LIMIT_HEADERS]
        return parameters

    def is_throttled(self) -> bool:
        """Whether the operation counts against a rate limit (a view's scope, unless it exempts this method)."""
        return bool(getattr(self.view, "throttle_scope", None)) and bool(self.view.get_throttles())

    def accepts_idempotency_key(self) -> bool:
        """A create view that honours the Idempotency-Key header declares it (idempotency.views)."""
        return self.method == "POST" and getattr(self.view, "accepts_idempotency_key", False)

    def map_parsers(self) -> list[str]:
        """The one content type a client should send: JSON, or multipart for a view that takes no JSON (the upload).

        The service still accepts form and multipart bodies on its JSON endpoints (curl -d, HTML forms), but
        three content types for one model make generators emit three branches that overwrite each other.
        """
        media_types = super().map_parsers()
        for preferred in ("application/json", MultiPartParser.media_type):
            if preferred in media_types:
                return [preferred]
        return media_types[:1]

    def get_auth(self) -> list[dict]:
        # An operation anyone may call (signup, health) declares no security at all, rather than
        # drf-spectacular's optional `[{}]`: generators then give it a plain client, with no token.
        if self.is_public():
            return []
        return super().get_auth()

    def is_public(self) -> bool:
        """Whether the operation needs no token: every permission is AllowAny."""
        # A composed permission (IsAuthenticated | IsAdminUser) is an instance, not a class: never AllowAny.
        return all(isinstance(p, type) and issubclass(p, AllowAny) for p in self.view.permission_classes)

    def _map_basic_serializer(self, serializer, direction: str) -> dict:
        # A serializer writes every readable field into each answer, so an answer's properties are all
        # required (drf-spectacular requires only the read-only and required ones): generated models then
        # type `title` as a str, not an optional. Nullable fields stay nullable.
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and schema.get("properties"):
            schema["required"] = sorted(schema["properties"])
        return schema

    def _get_response_bodies(self, direction="response") -> dict:
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            description, name = ERRORS[code]
            component = ResolvedComponent(name, ResolvedComponent.SCHEMA, object=name, schema=SCHEMAS[name])
            self.registry.register_on_missing(component)
            response = {"description": description, "content": {"application/json": {"schema": component.ref}}}
            if code == "429":
                response = {"headers": self._get_response_headers_for_code(code), **response}
            responses.setdefault(code, response)
        return responses

    def _get_request_body(self, direction: str = "request") -> dict | None:
        # drf-spectacular describes a body for PUT, PATCH and POST only; a view whose DELETE reads one
        # (a password confirming it) declares `delete_reads_body`.
        if not self.deletes_with_body():
            request_body = super()._get_request_body(direction)
        else:
            self.method = "POST"
            try:
                request_body = super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        # Every operation that reads a body needs one: a client always sends it, `{}` at the least
        # (drf-spectacular marks it optional when no field is required, and generators then mistype it).
        if request_body is not None:
            request_body["required"] = True
        return request_body

    def deletes_with_body(self) -> bool:
        return self.method == "DELETE" and getattr(self.view, "delete_reads_body", False)

    def error_codes(self) -> list[str]:
        view = self.view
        has_body = self.method in ("POST", "PUT", "PATCH") or self.deletes_with_body()
        needs_auth = not self.is_public()
        codes = []
        takes_query = getattr(view, "filterset_class", None) or getattr(view, "pagination_class", None)
        refuses_unknown_query = self.method == "GET" and KnownQueryParameters in getattr(view, "filter_backends", ())
        if has_body or takes_query or refuses_unknown_query:
            codes.append("400")
        if needs_auth or isinstance(view, TokenViewBase):
            codes.append("401")
        if any(getattr(permission, "status_code", None) == 403 for permission in view.permission_classes):
            codes.append("403")  # a permission that refuses an authenticated user declares it
        # A repeat with an Idempotency-Key answers what the first success created, or 404 once that is gone.
        if "{" in self.path or self.accepts_idempotency_key():
            codes.append("404")
        if has_body:
            codes += ["413", "415"]
        if self.is_throttled():
            codes.append("429")
        # Declared by the views that reach the store: True, or the methods that do.
        uses_file_storage = getattr(view, "uses_file_storage", False)
        if uses_file_storage is True or self.method in (uses_file_storage or ()):
            codes.append("503")
        codes += getattr(view, "error_statuses", ())  # declared by a view: e.g. 410 for an expired upload
        if self.accepts_idempotency_key():
            codes += ["409", "422"]
        return codes
