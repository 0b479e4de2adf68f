"""Account operations with more than one way in: issuing tokens, ending sessions, changing a password."""
from django.db import transaction
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from .models import User


def token_pair_for(user: User) -> dict[str, str]:
    """Return a fresh refresh/access pair for the user."""
    refresh = RefreshToken.for_user(user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


def refresh_tokens_blacklist(user: User) -> None:
    """Blacklist every refresh token issued to the user, in one insert; already blacklisted ones stay as they are."""
    token_ids = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).values_list("pk", flat=True)
    # The bulk form of BlacklistedToken.objects.get_or_create(token=...): the one-to-one column is unique,
    # so a token blacklisted meanwhile (a concurrent logout) is skipped, not an error.
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=token_id) for token_id in token_ids], ignore_conflicts=True
    )


def password_change(user: User, new_password: str) -> None:
    """Set a new (already validated) password and end every session the old one opened."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        # Access tokens die with the old password hash (SIMPLE_JWT CHECK_REVOKE_TOKEN); refresh tokens here.
        refresh_tokens_blacklist(user)
