"""The OpenAPI description's account parts (loaded by UsersConfig.ready): the bearer scheme of our JWT
authentication, example values from the spec (its "API Documentation" section) shared by the views, and
the empty answer of token verify and logout."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

EXAMPLE_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGc..."
EXAMPLE_USER = {"id": 1, "email": "user@example.com", "username": "johndoe", "date_joined": "2024-01-15T10:30:00Z"}

# SimpleJWT's verify and blacklist views answer `{}`: said so, a generated client parses it.
EMPTY_RESPONSE = OpenApiResponse(OpenApiTypes.OBJECT, description="Done: an empty JSON object.")


class SessionJWTScheme(SimpleJWTScheme):
    """users.authentication.JWTAuthentication reads the same bearer tokens as SimpleJWT's."""

    target_class = "users.authentication.JWTAuthentication"
