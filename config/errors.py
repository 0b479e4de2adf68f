"""Django's 400 page as JSON under /api/ (issue 14): a Host header not in ALLOWED_HOSTS is refused before
any view runs, so DRF's handler never sees it. Elsewhere (the admin) Django's own page stays.
The 500 handler is config.views.server_error."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults


def is_api_request(request: HttpRequest) -> bool:
    # path_info, never get_host(): with a bad Host header that raises again.
    return request.path_info.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception, template_name: str = "400.html") -> HttpResponse:
    """handler400: a JSON 400 under /api/ (e.g. a Host header not in ALLOWED_HOSTS)."""
    if is_api_request(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception, template_name)
