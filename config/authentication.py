"""SimpleJWT's authentication, saying what is wrong with the Authorization header or the token, and what to do.

SimpleJWT answers an expired, forged or wrong kind of token with "Given token not valid for any token type" and the
useful part nested in a list; here the answer says it at the top level, with a `code` a client can act on:
`token_expired` (refresh), `token_invalid` and `token_blacklisted` (log in again), `token_wrong_type` (the other
token of the pair was sent).
"""

from django.urls import reverse
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES, JWTAuthentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

# SimpleJWT's messages (English: LANGUAGE_CODE is fixed) for the refusals that are not expiry.
WRONG_TYPE, BLACKLISTED, CLAIM_EXPIRED = "Token has wrong type", "Token is blacklisted", "claim has expired"


def token_refused(error: TokenError, expected: str) -> InvalidToken:
    """The 401 for a token SimpleJWT refused: what is wrong with it and what to do, with a code.

    `expected` is the kind the endpoint takes: "access" (every authenticated endpoint), "refresh" (refresh,
    logout) or "any" (verify).
    """
    message = str(error.args[0]) if error.args else ""
    login = f"POST {reverse('users:login')}"
    refresh = f"POST {reverse('users:token_refresh')}"
    if isinstance(error, ExpiredTokenError) or message.endswith(CLAIM_EXPIRED):
        if expected == "access":
            detail = f"The access token has expired: get a new one from {refresh} with the refresh token."
        elif expected == "refresh":
            detail = f"The refresh token has expired: log in again ({login})."
        else:
            detail = f"The token has expired: an access token is renewed with {refresh}; for a refresh token, log in."
        return InvalidToken(detail, code="token_expired")
    if message == WRONG_TYPE:
        if expected == "access":
            detail = f"This is a refresh token: send it to {refresh}, then send the access token it answers."
        else:
            detail = "This is an access token: send the refresh token of the same login here."
        return InvalidToken(detail, code="token_wrong_type")
    if message == BLACKLISTED:
        return InvalidToken(
            f"The refresh token has been used already or logged out: log in again ({login}).", code="token_blacklisted"
        )
    return InvalidToken(
        f"The token is invalid: malformed, or not signed by this server (tokens issued before its SECRET_KEY or "
        f"JWT_SIGNING_KEY changed stop working). Log in again ({login}).",
        code="token_invalid",
    )


class BearerJWTAuthentication(JWTAuthentication):
    """JWTAuthentication; an Authorization header of another kind (a bare token, "JWT ...", "Basic ...") is a
    401 that names the expected form, where SimpleJWT would ignore it and say no credentials were provided."""

    def authenticate(self, request):
        header = self.get_header(request)
        if header is not None:
            kind = header.split()[0] if header.split() else b""
            if kind not in AUTH_HEADER_TYPE_BYTES:  # SIMPLE_JWT["AUTH_HEADER_TYPES"], as SimpleJWT reads them
                raise AuthenticationFailed(
                    'The Authorization header must be "Bearer <access token>" (the "access" of /api/auth/login/).',
                    code="bad_authorization_header",
                )
        return super().authenticate(request)

    def get_validated_token(self, raw_token: bytes) -> Token:
        first_error = None
        for token_class in api_settings.AUTH_TOKEN_CLASSES:
            try:
                return token_class(raw_token)
            except TokenError as error:
                first_error = first_error or error
        raise token_refused(first_error or TokenError(), expected="access") from first_error
