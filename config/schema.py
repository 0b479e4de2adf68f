"""The OpenAPI description: drf-spectacular's, plus the error answers each endpoint can give.

Errors keep DRF's shapes (the spec's "API Response Formats"): `{"detail": "..."}`, or messages under each
field's name for a 400.
"""
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny
from rest_framework_simplejwt.views import TokenViewBase

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
    "404": ("Not found, or another user's.", "Error"),
    "413": ("The request body is too large.", "Error"),
    "415": ("Unsupported Content-Type.", "Error"),
    "429": ("Too many requests: see the Retry-After header.", "Error"),
    "503": ("The file storage is unavailable.", "Error"),
}


class ServiceAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, documenting the errors an operation can answer."""

    def _get_response_bodies(self, direction="response") -> dict:
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            description, name = ERRORS[code]
            component = ResolvedComponent(name, ResolvedComponent.SCHEMA, object=name, schema=SCHEMAS[name])
            self.registry.register_on_missing(component)
            responses.setdefault(
                code, {"description": description, "content": {"application/json": {"schema": component.ref}}}
            )
        return responses

    def _get_request_body(self, direction: str = "request"):
        # drf-spectacular describes a body for PUT, PATCH and POST only; a view whose DELETE reads one
        # (a password confirming it) declares `delete_reads_body`.
        if not self.deletes_with_body():
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"

    def deletes_with_body(self) -> bool:
        return self.method == "DELETE" and getattr(self.view, "delete_reads_body", False)

    def error_codes(self) -> list[str]:
        view = self.view
        has_body = self.method in ("POST", "PUT", "PATCH") or self.deletes_with_body()
        needs_auth = not all(issubclass(p, AllowAny) for p in view.permission_classes)
        codes = []
        if has_body or getattr(view, "filterset_class", None) or getattr(view, "pagination_class", None):
            codes.append("400")
        if needs_auth or isinstance(view, TokenViewBase):
            codes.append("401")
        if any(getattr(permission, "status_code", None) == 403 for permission in view.permission_classes):
            codes.append("403")  # a permission that refuses an authenticated user declares it
        if "{" in self.path:
            codes.append("404")
        if has_body:
            codes += ["413", "415"]
        if getattr(view, "throttle_scope", None):
            codes.append("429")
        # Declared by the views that reach the store: True, or the methods that do.
        uses_file_storage = getattr(view, "uses_file_storage", False)
        if uses_file_storage is True or self.method in (uses_file_storage or ()):
            codes.append("503")
        return codes

