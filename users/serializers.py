"""Signup, the public view of a user, the user's own account and password, and token checks."""
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from .models import User

PASSWORD_STYLE = {"input_type": "password"}


class UserSerializer(serializers.ModelSerializer):
    """A user as the API shows it: never the password."""

    class Meta:
        model = User
        fields = ["id", "email", "username", "date_joined"]
        read_only_fields = fields


def tokens_for(user: User) -> dict[str, str]:
    """Return a fresh refresh/access pair for the user."""
    refresh = RefreshToken.for_user(user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


class TokenPairSerializer(serializers.Serializer):
    """A fresh refresh/access token pair."""

    refresh = serializers.CharField(read_only=True)
    access = serializers.CharField(read_only=True)


class SignupResponseSerializer(serializers.Serializer):
    """What signup answers: the new user and a token pair (describes SignupSerializer's output)."""

    user = UserSerializer(read_only=True)
    tokens = TokenPairSerializer(read_only=True)


class AccountFieldsMixin:
    """Check email and username of a ModelSerializer of User: normalized, valid, unique ignoring case.

    Uniqueness is against the other users (all of them on signup, where there is no instance). The
    serializer's Meta must clear the model's exact-match unique validators on both fields.
    """

    def _other_users(self) -> QuerySet[User]:
        return User.objects.exclude(pk=self.instance.pk) if self.instance is not None else User.objects.all()

    def validate_email(self, value: str) -> str:
        value = User.objects.normalize_email(value)
        if self._other_users().filter(email__iexact=value).exists():
            raise serializers.ValidationError("A user with this email already exists.")
        return value

    def validate_username(self, value: str) -> str:
        for validator in User._meta.get_field("username").validators:
            validator(value)
        if self._other_users().filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        return value


class SignupSerializer(AccountFieldsMixin, serializers.ModelSerializer):
    """Create an account from email, username and a password typed twice; answer with user and tokens."""

    password = serializers.CharField(write_only=True, trim_whitespace=False, style=PASSWORD_STYLE)
    password2 = serializers.CharField(write_only=True, trim_whitespace=False, style=PASSWORD_STYLE)

    class Meta:
        model = User
        fields = ["email", "username", "password", "password2"]
        # AccountFieldsMixin's case-insensitive checks replace the model's exact-match unique validators.
        extra_kwargs = {"email": {"validators": []}, "username": {"validators": []}}

    def validate(self, attrs: dict) -> dict:
        if attrs["password"] != attrs["password2"]:
            raise serializers.ValidationError({"password2": ["The two passwords do not match."]})
        candidate = User(email=attrs["email"], username=attrs["username"])
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs

    def create(self, validated_data: dict) -> User:
        validated_data.pop("password2")
        return User.objects.create_user(**validated_data)

    def to_representation(self, instance: User) -> dict:
        return {"user": UserSerializer(instance, context=self.context).data, "tokens": tokens_for(instance)}


def blacklist_refresh_tokens(user: User) -> None:
    """Blacklist every refresh token issued to the user, in one insert; already blacklisted ones stay as they are."""
    token_ids = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).values_list("pk", flat=True)
    # The bulk form of BlacklistedToken.objects.get_or_create(token=...): the one-to-one column is unique,
    # so a token blacklisted meanwhile (a concurrent logout) is skipped, not an error.
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=token_id) for token_id in token_ids], ignore_conflicts=True
    )


class AccountSerializer(AccountFieldsMixin, serializers.ModelSerializer):
    """The current user's own account: change username or email; a new email needs the current password."""

    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False, style=PASSWORD_STYLE,
        help_text="The current password; required only to change the email.",
    )

    class Meta:
        model = User
        fields = ["id", "email", "username", "date_joined", "password"]
        read_only_fields = ["id", "date_joined"]
        # AccountFieldsMixin's case-insensitive checks replace the model's exact-match unique validators.
        extra_kwargs = {"email": {"validators": []}, "username": {"validators": []}}

    def validate(self, attrs: dict) -> dict:
        password = attrs.pop("password", "")
        email = attrs.get("email")
        # Only a different address is a change: the same one in another letter case is the same login.
        if email is not None and email.lower() != self.instance.email.lower():
            if not password:
                raise serializers.ValidationError({"password": ["Enter your current password to change the email."]})
            if not self.instance.check_password(password):
                raise serializers.ValidationError({"password": ["The password is incorrect."]})
        return attrs


class PasswordChangeSerializer(serializers.Serializer):
    """Change the current user's password: every token issued before stops working."""

    old_password = serializers.CharField(write_only=True, trim_whitespace=False, style=PASSWORD_STYLE)
    new_password = serializers.CharField(write_only=True, trim_whitespace=False, style=PASSWORD_STYLE)

    def validate_old_password(self, value: str) -> str:
        if not self.instance.check_password(value):
            raise serializers.ValidationError("The password is incorrect.")
        return value

    def validate_new_password(self, value: str) -> str:
        try:
            password_validation.validate_password(value, user=self.instance)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from exc
        return value

    def update(self, instance: User, validated_data: dict) -> User:
        with transaction.atomic():
            instance.set_password(validated_data["new_password"])
            instance.save(update_fields=["password"])
            # Access tokens die with the old password hash (SIMPLE_JWT CHECK_REVOKE_TOKEN); refresh tokens here.
            blacklist_refresh_tokens(instance)
        return instance


class TokenVerifySerializer(jwt_serializers.TokenVerifySerializer):
    """Check a token as authentication would: also refused once its user is gone or has changed the password."""

    def validate(self, attrs: dict) -> dict:
        data = super().validate(attrs)
        # The stock check is signature, expiry and blacklist only: a revoked access token would pass it.
        JWTAuthentication().get_user(UntypedToken(attrs["token"]))
        return data


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """SimpleJWT's refresh, answering 401 (not 500) for a token whose user has been deleted."""

    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except User.DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account") from None
