"""Account endpoints: SimpleJWT's views for tokens, with throttle scopes; signup, account, sessions, password
reset and email verification of our own."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from idempotency.views import IdempotentCreateMixin

from .models import User
from .permissions import authenticated_user
from .schema import EMPTY_RESPONSE, EXAMPLE_TOKEN, EXAMPLE_USER
from .serializers import (
    AccountDeleteSerializer,
    AccountSerializer,
    DetailSerializer,
    EmailVerifySerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    SignupResponseSerializer,
    SignupSerializer,
    TokenPairSerializer,
    TokenVerifySerializer,
)
from .services import account_delete, email_verification_request, password_reset_request, sessions_end, token_pair_for

PASSWORD_RESET_SENT = "If an account has this email, a link to reset its password is on its way."
VERIFICATION_SENT = "A link to verify your email address is on its way."


@extend_schema_view(
    post=extend_schema(
        summary="Sign up",
        responses={201: SignupResponseSerializer},
        examples=[
            OpenApiExample(
                "Signup",
                request_only=True,
                value={
                    "email": "user@example.com",
                    "username": "johndoe",
                    "password": "SecurePassword123",
                    "password2": "SecurePassword123",
                },
            ),
            OpenApiExample(
                "Created",
                response_only=True,
                status_codes=["201"],
                value={"user": EXAMPLE_USER, "tokens": {"refresh": EXAMPLE_TOKEN, "access": EXAMPLE_TOKEN}},
            ),
        ],
    )
)
class SignupView(IdempotentCreateMixin, generics.CreateAPIView):
    """POST /api/auth/signup/: create an account and answer with the user and a token pair.

    With an Idempotency-Key (keys of the client's address), a repeat answers the same account with new tokens.
    """

    serializer_class = SignupSerializer
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_scope = "signup"

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(idempotency=self.idempotency)

    def idempotent_resources(self):
        return User.objects.all()

    def created_resource_id(self, response: Response):
        return response.data["user"]["id"]


@extend_schema_view(
    post=extend_schema(
        summary="Log in",
        # Said outright: LoginSerializer's fields are all write-only, so drf-spectacular would describe no answer.
        responses={200: TokenPairSerializer},
        examples=[
            OpenApiExample(
                "Login", request_only=True, value={"email": "user@example.com", "password": "SecurePassword123"}
            ),
            OpenApiExample("Tokens", response_only=True, value={"refresh": EXAMPLE_TOKEN, "access": EXAMPLE_TOKEN}),
        ],
    )
)
class LoginView(jwt_views.TokenObtainPairView):
    """POST /api/auth/login/: email (any letter case) and password give a refresh/access pair."""

    throttle_scope = "login"


@extend_schema_view(
    post=extend_schema(
        summary="Refresh the access token",
        examples=[
            OpenApiExample("Refresh", request_only=True, value={"refresh": EXAMPLE_TOKEN}),
            OpenApiExample("New tokens", response_only=True, value={"access": EXAMPLE_TOKEN, "refresh": EXAMPLE_TOKEN}),
        ],
    )
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    """POST /api/auth/token/refresh/: a refresh token gives a new access token and a new refresh token."""

    throttle_scope = "token"


@extend_schema_view(post=extend_schema(summary="Verify a token", responses={200: EMPTY_RESPONSE}))
class TokenVerifyView(jwt_views.TokenVerifyView):
    """POST /api/auth/token/verify/: answer 200 if the token is still accepted, 401 if not."""

    serializer_class = TokenVerifySerializer
    throttle_scope = "token"
    token_kind = "any"  # what a refused token is said to be (config.authentication.token_refused)


@extend_schema_view(post=extend_schema(summary="Log out (blacklist a refresh token)", responses={200: EMPTY_RESPONSE}))
class LogoutView(jwt_views.TokenBlacklistView):
    """POST /api/auth/logout/: end this session: its refresh token can no longer be used.

    The session's access token still works until it expires (JWT_ACCESS_TOKEN_LIFETIME_MINUTES); clients
    drop it. To end every session at once, access tokens included, use logout/all/.
    """

    throttle_scope = "token"


class LogoutAllView(APIView):
    """POST /api/auth/logout/all/: end every session of the user, this one too: refresh and access tokens."""

    throttle_scope = "token"

    @extend_schema(summary="Log out everywhere", request=None, responses={204: None})
    def post(self, request: Request, *args, **kwargs) -> Response:
        sessions_end(authenticated_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(summary="Show your account"),
    put=extend_schema(summary="Change your account"),
    patch=extend_schema(summary="Change your account"),
    delete=extend_schema(
        summary="Delete your account",
        description="The account, its images and their files are deleted; every token stops working.",
        request=AccountDeleteSerializer,
        responses={204: None},
    ),
)
class AccountView(generics.RetrieveUpdateDestroyAPIView):
    """GET, PATCH, PUT, DELETE /api/auth/me/: the current user; a new email or a deletion needs the current password."""

    serializer_class = AccountSerializer
    throttle_scope = "login"
    uses_file_storage = ["DELETE"]  # deleting the account deletes the files of its images: 503 if the store is down
    delete_reads_body = True  # the password confirming a deletion (config.schema)

    def get_object(self) -> User:
        return authenticated_user(self.request)

    def get_throttles(self) -> list:
        # A write may check the password (an email change, a deletion): limited like login. Reads are not.
        return [] if self.request.method in SAFE_METHODS else super().get_throttles()

    def perform_destroy(self, instance: User) -> None:
        confirmation = AccountDeleteSerializer(instance, data=self.request.data)
        confirmation.is_valid(raise_exception=True)
        account_delete(instance)


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


class PasswordResetRequestView(generics.GenericAPIView):
    """POST /api/auth/password/reset/: mail a reset link if the email has an account; the answer never says."""

    serializer_class = PasswordResetRequestSerializer
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_scope = "login"

    @extend_schema(
        summary="Ask for a password reset link",
        description="Always 202 with the same body, whether or not the email has an account. The mail holds a "
        "link built from PASSWORD_RESET_URL with {uid} and {token}, for reset/confirm/.",
        responses={202: DetailSerializer},
        examples=[OpenApiExample("Reset", request_only=True, value={"email": "user@example.com"})],
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_request(serializer.validated_data["email"])
        return Response({"detail": PASSWORD_RESET_SENT}, status=status.HTTP_202_ACCEPTED)


class MailedLinkView(generics.GenericAPIView):
    """POST the token of a mailed link: the serializer checks it, its save() acts on it."""

    permission_classes = [AllowAny]
    authentication_classes = []
    done_detail = ""

    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response({"detail": self.done_detail})


@extend_schema_view(
    post=extend_schema(
        summary="Set a new password from a reset link",
        description="The link works once and expires after PASSWORD_RESET_TIMEOUT_MINUTES. Every session of the "
        "account ends; log in with the new password.",
        responses={200: DetailSerializer},
    )
)
class PasswordResetConfirmView(MailedLinkView):
    """POST /api/auth/password/reset/confirm/: set a new password with a reset link's uid and token."""

    serializer_class = PasswordResetConfirmSerializer
    throttle_scope = "login"
    done_detail = "Your password has been set. Log in with it."


@extend_schema_view(post=extend_schema(summary="Verify your email address", responses={200: DetailSerializer}))
class EmailVerifyView(MailedLinkView):
    """POST /api/auth/email/verify/: verify the email address with a verification link's token."""

    serializer_class = EmailVerifySerializer
    throttle_scope = "token"
    done_detail = "Your email address is verified."


class EmailVerifyResendView(APIView):
    """POST /api/auth/email/verify/resend/: mail a new verification link to the current address."""

    throttle_scope = "login"

    @extend_schema(summary="Send a new email verification link", request=None, responses={202: DetailSerializer})
    def post(self, request: Request, *args, **kwargs) -> Response:
        user = authenticated_user(request)
        if user.email_verified:
            return Response({"detail": "Your email address is already verified."})
        email_verification_request(user)
        return Response({"detail": VERIFICATION_SENT}, status=status.HTTP_202_ACCEPTED)
