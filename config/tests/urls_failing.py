"""The project's URLs plus views that fail on purpose, for the tests of the last-resort error pages."""

from django.http import HttpRequest
from django.urls import path

from config.urls import handler400, handler500  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns


def fail(request: HttpRequest, **kwargs):
    raise RuntimeError("a bug")


urlpatterns = [path("api/failing/", fail), path("failing/", fail), *project_urlpatterns]
