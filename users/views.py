"""Account endpoints: SimpleJWT's views for tokens, with throttle scopes; signup of our own."""
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework_simplejwt import views as jwt_views

from .serializers import SignupSerializer


class SignupView(generics.CreateAPIView):
    """POST /api/auth/signup/: create an account and answer with the user and a token pair."""

    serializer_class = SignupSerializer
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_scope = "signup"


class LoginView(jwt_views.TokenObtainPairView):
    """POST /api/auth/login/: email (any letter case) and password give a refresh/access pair."""

    throttle_scope = "login"


class TokenRefreshView(jwt_views.TokenRefreshView):
    """POST /api/auth/token/refresh/: a refresh token gives a new access token and a new refresh token."""

    throttle_scope = "token"


class LogoutView(jwt_views.TokenBlacklistView):
    """POST /api/auth/logout/: blacklist the given refresh token, so it can no longer be used."""

    throttle_scope = "token"
