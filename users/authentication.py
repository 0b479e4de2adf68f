"""SimpleJWT's authentication, also refusing tokens of a session that has ended (users.tokens.session_check)."""

from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.tokens import Token

from config.authentication import BearerJWTAuthentication
from config.timing import timed

from .models import User
from .tokens import SessionRefused, session_check


class JWTAuthentication(BearerJWTAuthentication):
    """Bearer access tokens: SimpleJWT's checks, then the session's (logged out everywhere, past its maximum age)."""

    # SimpleJWT types the user these return as a TypeVar that no argument binds, which no override can match (hence
    # the ignores); the user it reads is AUTH_USER_MODEL's, ours.

    def authenticate(self, request: Request) -> tuple[User, Token] | None:  # type: ignore[override]
        with timed("auth"):
            return super().authenticate(request)

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        user = super().get_user(validated_token)  # the user already read here: the checks cost no query
        assert isinstance(user, User)  # AUTH_USER_MODEL
        try:
            session_check(validated_token, user)
        except SessionRefused as exc:
            raise AuthenticationFailed(exc.message, exc.code) from None
        return user
