"""The OpenAPI description's account parts (loaded by UsersConfig.ready): the bearer scheme of our JWT
authentication, and example values from the spec (seed-readme.md, "API Documentation") shared by the views."""
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme

EXAMPLE_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGc..."
EXAMPLE_USER = {"id": 1, "email": "user@example.com", "username": "johndoe", "date_joined": "2024-01-15T10:30:00Z"}


class SessionJWTScheme(SimpleJWTScheme):
    """users.authentication.JWTAuthentication reads the same bearer tokens as SimpleJWT's."""

    target_class = "users.authentication.JWTAuthentication"
