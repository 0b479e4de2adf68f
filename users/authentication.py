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

    def authenticate(self, request: Request) -> tuple[User, Token] | None:
        with timed("auth"):
            return super().authenticate(request)

    def get_user(self, validated_token: Token) -> User:
        user = super().get_user(validated_token)  # the user already read here: the checks cost no query
        try:
            session_check(validated_token, user)
        except SessionRefused as exc:
            raise AuthenticationFailed(exc.message, exc.code) from None
        return user
