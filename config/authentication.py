"""SimpleJWT's authentication, saying what is wrong when the Authorization header is not a Bearer token."""

from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication


class BearerJWTAuthentication(JWTAuthentication):
    """JWTAuthentication; an Authorization header of another kind (a bare token, "JWT ...", "Basic ...") is a
    401 that names the expected form, where SimpleJWT would ignore it and say no credentials were provided."""

    def authenticate(self, request):
        header = self.get_header(request)
        if header is not None:
            kind = header.split()[0] if header.split() else b""
            if kind not in {allowed.encode() for allowed in settings.SIMPLE_JWT["AUTH_HEADER_TYPES"]}:
                raise AuthenticationFailed(
                    'The Authorization header must be "Bearer <access token>" (the "access" of /api/auth/login/).',
                    code="bad_authorization_header",
                )
        return super().authenticate(request)
