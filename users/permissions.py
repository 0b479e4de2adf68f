"""Permissions that other apps' views declare, and the user they let through."""

from django.conf import settings
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .models import User


def authenticated_user(request: Request) -> User:
    """The user of a request that IsAuthenticated (the default permission) let through."""
    user = request.user
    if not isinstance(user, User):  # AnonymousUser: a view that lets anyone in has no user to give
        raise NotAuthenticated()
    return user


class VerifiedEmailRequired(BasePermission):
    """Refuse (403) a user whose email address is not verified, when REQUIRE_VERIFIED_EMAIL is on."""

    message = "Verify your email address first: open the link mailed to you, or ask for a new one."
    code = "email_not_verified"
    status_code = 403  # for the OpenAPI description (config.schema)

    def has_permission(self, request, view) -> bool:
        user = request.user
        return not settings.REQUIRE_VERIFIED_EMAIL or bool(user and user.is_authenticated and user.email_verified)
