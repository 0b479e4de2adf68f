"""Permissions of the project's own views."""

from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiDocsAccess(BasePermission):
    """The OpenAPI schema and its docs: anyone while API_DOCS_PUBLIC is on (the default), staff only when off
    (an admin session in the browser, or a staff member's access token)."""

    message = "The API's documentation is for staff: log in to the admin first."

    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_staff)
