"""Account endpoints: SimpleJWT's views for tokens, with throttle scopes; signup, account and password of our own."""
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views

from .models import User
from .schema import EXAMPLE_TOKEN, EXAMPLE_USER
from .serializers import (
    AccountSerializer,
    PasswordChangeSerializer,
    SignupResponseSerializer,
    SignupSerializer,
    TokenPairSerializer,
    TokenVerifySerializer,
)
from .services import token_pair_for


@extend_schema_view(post=extend_schema(
    summary="Sign up",
    responses={201: SignupResponseSerializer},
    examples=[
        OpenApiExample("Signup", request_only=True, value={
            "email": "user@example.com", "username": "johndoe",
            "password": "SecurePassword123", "password2": "SecurePassword123",
        }),
        OpenApiExample("Created", response_only=True, status_codes=["201"],
                       value={"user": EXAMPLE_USER, "tokens": {"refresh": EXAMPLE_TOKEN, "access": EXAMPLE_TOKEN}}),
    ],
))
class SignupView(generics.CreateAPIView):
    """POST /api/auth/signup/: create an account and answer with the user and a token pair."""

    serializer_class = SignupSerializer
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_scope = "signup"


@extend_schema_view(post=extend_schema(
    summary="Log in",
    examples=[
        OpenApiExample("Login", request_only=True,
                       value={"email": "user@example.com", "password": "SecurePassword123"}),
        OpenApiExample("Tokens", response_only=True, value={"refresh": EXAMPLE_TOKEN, "access": EXAMPLE_TOKEN}),
    ],
))
class LoginView(jwt_views.TokenObtainPairView):
    """POST /api/auth/login/: email (any letter case) and password give a refresh/access pair."""

    throttle_scope = "login"


@extend_schema_view(post=extend_schema(
    summary="Refresh the access token",
    examples=[
        OpenApiExample("Refresh", request_only=True, value={"refresh": EXAMPLE_TOKEN}),
        OpenApiExample("New tokens", response_only=True, value={"access": EXAMPLE_TOKEN, "refresh": EXAMPLE_TOKEN}),
    ],
))
class TokenRefreshView(jwt_views.TokenRefreshView):
    """POST /api/auth/token/refresh/: a refresh token gives a new access token and a new refresh token."""

    throttle_scope = "token"


@extend_schema_view(post=extend_schema(summary="Verify a token"))
class TokenVerifyView(jwt_views.TokenVerifyView):
    """POST /api/auth/token/verify/: answer 200 if the token is still accepted, 401 if not."""

    serializer_class = TokenVerifySerializer
    throttle_scope = "token"


@extend_schema_view(post=extend_schema(summary="Log out (blacklist a refresh token)"))
class LogoutView(jwt_views.TokenBlacklistView):
    """POST /api/auth/logout/: blacklist the given refresh token, so it can no longer be used."""

    throttle_scope = "token"


@extend_schema_view(
    get=extend_schema(summary="Show your account"),
    put=extend_schema(summary="Change your account"),
    patch=extend_schema(summary="Change your account"),
)
class AccountView(generics.RetrieveUpdateAPIView):
    """GET, PATCH, PUT /api/auth/me/: the current user; a new email needs the current password."""

    serializer_class = AccountSerializer
    throttle_scope = "login"

    def get_object(self) -> User:
        return self.request.user

    def get_throttles(self) -> list:
        # A write may check the password (an email change): limited like login. Reads are not.
        return [] if self.request.method in SAFE_METHODS else super().get_throttles()


class PasswordChangeView(generics.GenericAPIView):
    """POST /api/auth/password/change/: change the password, end every session, answer with a new token pair."""

    serializer_class = PasswordChangeSerializer
    # It checks a password, so it is limited like login (per user, since it needs one).
    throttle_scope = "login"

    @extend_schema(
        summary="Change the password",
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(request.user, data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        # Every earlier token is now refused; this pair keeps the client that changed the password logged in.
        return Response(TokenPairSerializer(token_pair_for(user)).data)
