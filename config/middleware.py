"""Refuse request bodies larger than the service ever accepts, from their Content-Length, unread."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.template.defaultfilters import filesizeformat


class RequestBodyLimitMiddleware:
    """Answer 413 (JSON) before reading a body that is over the limit.

    The limit is DATA_UPLOAD_MAX_MEMORY_SIZE for any body, plus IMAGE_MAX_UPLOAD_SIZE for multipart
    uploads (an image a little over its limit still reaches the validator, which says so under `image`) and
    for a body that is an image itself (a direct upload's PUT to the local store, which checks its exact size).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        fields = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        content_type = request.content_type or ""  # None on an HttpRequest built by hand
        carries_image = content_type == "multipart/form-data" or content_type.startswith("image/")
        image = settings.IMAGE_MAX_UPLOAD_SIZE if carries_image else 0
        if length > fields + image:
            # In MB, as the image's own limit is said: one style for both messages.
            detail = f"The request body is too large ({filesizeformat(length)}); the limit is "
            if image:
                detail += f"{filesizeformat(image)} for the image and {filesizeformat(fields)} for the other fields."
            else:
                detail += f"{filesizeformat(fields)}."
            return JsonResponse({"detail": detail}, status=413)
        return self.get_response(request)


class RateLimitHeadersMiddleware:
    """Add the RateLimit-Policy and RateLimit headers to the answers of throttled views (config.throttling), 429s too:
    a client sees its quota running out before it is refused."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        state = getattr(request, "rate_limit", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response
