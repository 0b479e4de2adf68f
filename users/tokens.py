"""JWTs of a login session: every token carries the session's id, when it began and the user's token generation.

- `sid` names the session (the chain of refresh tokens one login starts): a replayed refresh token ends
  its own chain, not the user's other devices (OAuth 2.0 Security BCP, refresh token rotation).
- `auth_time` is when the session began; no token of the session outlives JWT_SESSION_MAX_DAYS after it,
  however often the refresh token is rotated.
- `gen` is the user's token generation when the session began; "log out everywhere" moves it on.
"""

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, BlacklistMixin, RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_to_epoch, get_md5_hash_password

from config import errors
from config.errors import DomainError

from .models import User

SESSION_CLAIM = "sid"
AUTH_TIME_CLAIM = "auth_time"
GENERATION_CLAIM = "gen"

if TYPE_CHECKING:  # the tokens the mixin is mixed into, for the type checker; at run time it stands alone
    _Token = Token
else:
    _Token = object


class SessionExpiryMixin(_Token):
    """Never let a token's "exp" pass the end of its session."""

    def set_exp(self, claim: str = "exp", from_time: datetime | None = None, lifetime: timedelta | None = None) -> None:
        super().set_exp(claim, from_time, lifetime)
        if claim == "exp" and AUTH_TIME_CLAIM in self.payload:
            self.payload["exp"] = min(self.payload["exp"], session_end(self.payload))


class SessionAccessToken(SessionExpiryMixin, AccessToken):
    """An access token that ends with its session at the latest."""


class SessionRefreshToken(SessionExpiryMixin, RefreshToken):
    """A refresh token carrying its session's claims; rotation keeps them (it changes only jti, iat, exp)."""

    access_token_class = SessionAccessToken

    @classmethod
    def for_user(cls, user: User) -> "SessionRefreshToken":  # type: ignore[override]  # our User's sessions only
        """Start a new session for the user and return its first refresh token, recorded as outstanding."""
        # Token.for_user, skipping BlacklistMixin's, which records the token before these claims are in it.
        token = super(BlacklistMixin, cls).for_user(user)
        token[SESSION_CLAIM] = uuid.uuid4().hex
        token[AUTH_TIME_CLAIM] = datetime_to_epoch(token.current_time)
        token[GENERATION_CLAIM] = user.token_generation
        token.set_exp()  # now capped by the session's end
        token.outstand()
        return token

    @property
    def access_token(self) -> AccessToken:  # a SessionAccessToken (access_token_class)
        access = super().access_token
        access.set_exp(from_time=self.current_time)  # again, now that it has the session's claims
        return access


def session_end(payload: dict) -> int:
    """When the token's session ends, in seconds since the epoch."""
    began = payload.get(AUTH_TIME_CLAIM, payload.get("iat", 0))  # tokens older than the claim: from their iat
    return began + settings.JWT_SESSION_MAX_DAYS * 24 * 3600


class SessionRefused(DomainError):
    """A token whose session has ended, or whose user can no longer sign in. The authentication class and the
    token serializers answer it as SimpleJWT's AuthenticationFailed (a 401 with WWW-Authenticate)."""

    kind = errors.UNAUTHENTICATED

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def session_check(token: Token, user: User) -> None:
    """Refuse a token whose session has ended: password changed, logged out everywhere, or past its maximum age."""
    if token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise SessionRefused("The user's password has been changed.", "password_changed")
    if token.get(GENERATION_CLAIM, 0) != user.token_generation:
        raise SessionRefused("This session has been logged out.", "session_ended")
    if session_end(token.payload) <= datetime_to_epoch(token.current_time):
        raise SessionRefused("This session has reached its maximum age: log in again.", "session_expired")


def session_tokens(user_id: int, session_id: str | None) -> list[int]:
    """The ids of the outstanding, not yet blacklisted refresh tokens of one session of the user (all, if None)."""
    outstanding = OutstandingToken.objects.filter(
        user_id=user_id, blacklistedtoken__isnull=True, expires_at__gt=timezone.now()
    )
    if session_id is None:
        return list(outstanding.values_list("pk", flat=True))
    # The session id is inside each stored token: a user has one live token per session, so few to read.
    # simplejwt types decode's argument as a Token; it takes the encoded token, a str.
    return [
        pk
        for pk, raw in outstanding.values_list("pk", "token")
        if token_backend.decode(raw, verify=False).get(SESSION_CLAIM) == session_id  # type: ignore[arg-type]
    ]
