"""Signup and login, the public view of a user, the user's own account and password, and token checks."""

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.tokens import UntypedToken

from .authentication import JWTAuthentication
from .models import EMAIL_TAKEN, USERNAME_TAKEN, User
from .services import (
    email_verification_request,
    email_verification_user,
    email_verified_set,
    password_change,
    password_reset_confirm,
    password_reset_user,
    session_refresh,
    token_pair_for,
    user_usage,
)
from .tokens import SessionRefreshToken, SessionRefused

PASSWORD_INCORRECT = "The password is incorrect."
# Longer input is refused before it is hashed (and users.validators.MaximumLengthValidator refuses it as a
# new password everywhere else, the admin included).
PASSWORD_MAX_LENGTH = 4096


class PasswordField(serializers.CharField):
    """A password going in: never echoed, never trimmed, typed into a password box (simplejwt's model)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("style", {})["input_type"] = "password"
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", PASSWORD_MAX_LENGTH)
        super().__init__(**kwargs)


def validate_new_password(password: str, user: User) -> None:
    """Run Django's password validators, as DRF errors."""
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(list(exc.messages)) from exc


class UserSerializer(serializers.ModelSerializer):
    """A user as the API shows it: never the password."""

    class Meta:
        model = User
        fields = ["id", "email", "username", "date_joined"]
        read_only_fields = fields


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

    instance: User | None

    def _other_users(self) -> QuerySet[User]:
        return User.objects.exclude(pk=self.instance.pk) if self.instance is not None else User.objects.all()

    def validate_email(self, value: str) -> str:
        value = User.objects.normalize_email(value)
        self.check_email_free(value)
        return value

    def check_email_free(self, value: str) -> None:
        if self._other_users().filter(email__iexact=value).exists():
            raise serializers.ValidationError(EMAIL_TAKEN)

    def validate_username(self, value: str) -> str:
        for validator in User._meta.get_field("username").validators:
            validator(value)
        if self._other_users().filter(username__iexact=value).exists():
            raise serializers.ValidationError(USERNAME_TAKEN)
        return value


class SignupSerializer(AccountFieldsMixin, serializers.ModelSerializer):
    """Create an account from email, username and a password typed twice; answer with user and tokens."""

    password = PasswordField()
    password2 = PasswordField()

    class Meta:
        model = User
        fields = ["email", "username", "password", "password2"]
        # AccountFieldsMixin's case-insensitive checks replace the model's exact-match unique validators.
        extra_kwargs: dict[str, dict[str, Any]] = {"email": {"validators": []}, "username": {"validators": []}}

    def validate(self, attrs: dict) -> dict:
        if attrs["password"] != attrs["password2"]:
            raise serializers.ValidationError({"password2": ["The two passwords do not match."]})
        try:
            validate_new_password(attrs["password"], User(email=attrs["email"], username=attrs["username"]))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"password": exc.detail}) from exc
        return attrs

    def create(self, validated_data: dict) -> User:
        validated_data.pop("password2")
        idempotency = validated_data.pop("idempotency", None)
        with transaction.atomic():
            user = User.objects.create_user(**validated_data)
            if idempotency is not None:  # an Idempotency-Key: recorded with the account it created
                idempotency.record(user.pk)
        email_verification_request(user)
        return user

    def to_representation(self, instance: User) -> dict:
        return {"user": UserSerializer(instance, context=self.context).data, "tokens": token_pair_for(instance)}


class UsageSerializer(serializers.Serializer):
    """What the user stores and may store."""

    bytes = serializers.IntegerField(
        help_text="Bytes counted against the quota: every image's original, and every direct upload not yet "
        "completed at its declared size (variants are not counted)."
    )
    images = serializers.IntegerField(help_text="How many images.")
    quota_bytes = serializers.IntegerField(allow_null=True, help_text="Bytes the user may store; null: no quota.")


class AccountSerializer(AccountFieldsMixin, serializers.ModelSerializer):
    """The current user's own account: change username or email; a new email needs the current password.

    A new email must be verified again: a link goes to the new address.
    """

    instance: User  # the current user: its view always gives one (as to the two serializers below)

    password = PasswordField(
        required=False, allow_blank=True, help_text="The current password; required only to change the email."
    )
    usage = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "username", "date_joined", "email_verified", "password", "usage"]
        read_only_fields = ["id", "date_joined", "email_verified"]
        # AccountFieldsMixin's case-insensitive checks replace the model's exact-match unique validators.
        extra_kwargs: dict[str, dict[str, Any]] = {"email": {"validators": []}, "username": {"validators": []}}

    def validate_email(self, value: str) -> str:
        # Whether another account has the address is said only after the password is checked (validate):
        # otherwise anyone holding a token could probe which addresses have accounts.
        return User.objects.normalize_email(value)

    def validate(self, attrs: dict) -> dict:
        password = attrs.pop("password", "")
        if self.email_changes(attrs):
            if not password:
                raise serializers.ValidationError({"password": ["Enter your current password to change the email."]})
            if not self.instance.check_password(password):
                raise serializers.ValidationError({"password": [PASSWORD_INCORRECT]})
            try:
                self.check_email_free(attrs["email"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"email": exc.detail}) from exc
        return attrs

    @extend_schema_field(UsageSerializer)
    def get_usage(self, obj: User) -> dict | None:
        """The storage used and the quota, from the usage hook (settings.USER_USAGE_BACKEND)."""
        return user_usage(obj)

    def email_changes(self, attrs: dict) -> bool:
        # Only a different address is a change: the same one in another letter case is the same login.
        email = attrs.get("email")
        return email is not None and email.lower() != self.instance.email.lower()

    def update(self, instance: User, validated_data: dict) -> User:
        email_changed = self.email_changes(validated_data)
        if email_changed:
            validated_data["email_verified"] = False
            validated_data["email_generation"] = instance.email_generation + 1  # earlier links stop working
        user = super().update(instance, validated_data)
        if email_changed:
            email_verification_request(user)
        return user


class AccountDeleteSerializer(serializers.Serializer):
    """Delete the current user's account: the current password confirms it."""

    instance: User
    password = PasswordField()

    def validate_password(self, value: str) -> str:
        if not self.instance.check_password(value):
            raise serializers.ValidationError(PASSWORD_INCORRECT)
        return value


class PasswordChangeSerializer(serializers.Serializer):
    """Change the current user's password: every token issued before stops working."""

    instance: User
    old_password = PasswordField()
    new_password = PasswordField()

    def validate_old_password(self, value: str) -> str:
        if not self.instance.check_password(value):
            raise serializers.ValidationError(PASSWORD_INCORRECT)
        return value

    def validate_new_password(self, value: str) -> str:
        validate_new_password(value, self.instance)
        return value

    def update(self, instance: User, validated_data: dict) -> User:
        password_change(instance, validated_data["new_password"])
        return instance


class PasswordResetRequestSerializer(serializers.Serializer):
    """Ask for a password reset link by email."""

    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    """Set a new password with the uid and token of a reset link."""

    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = PasswordField()

    default_error_messages = {"invalid_link": "This password reset link is invalid, expired or already used."}

    def validate(self, attrs: dict) -> dict:
        user = password_reset_user(attrs["uid"], attrs["token"])
        if user is None:
            raise serializers.ValidationError({"token": [self.error_messages["invalid_link"]]}, "invalid_link")
        try:
            validate_new_password(attrs["new_password"], user)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"new_password": exc.detail}) from exc
        attrs["user"] = user
        return attrs

    def create(self, validated_data: dict) -> User:
        password_reset_confirm(validated_data["user"], validated_data["new_password"])
        return validated_data["user"]


class EmailVerifySerializer(serializers.Serializer):
    """Verify an email address with the token of a verification link."""

    token = serializers.CharField(max_length=512)

    def validate(self, attrs: dict) -> dict:
        user = email_verification_user(attrs["token"])
        if user is None:
            message = "This verification link is invalid, expired or for an older address."
            raise serializers.ValidationError({"token": [message]}, "invalid_link")
        return {"user": user}

    def create(self, validated_data: dict) -> User:
        email_verified_set(validated_data["user"])
        return validated_data["user"]


class DetailSerializer(serializers.Serializer):
    """A message for the user."""

    detail = serializers.CharField(read_only=True)


class LoginSerializer(jwt_serializers.TokenObtainPairSerializer):
    """SimpleJWT's login, starting a session (users.tokens) and refusing over-long passwords unhashed."""

    token_class = SessionRefreshToken

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"] = PasswordField()


class TokenVerifySerializer(jwt_serializers.TokenVerifySerializer):
    """Check a token as authentication would: also refused once its user is gone or its session has ended."""

    def validate(self, attrs: dict) -> dict:
        data = super().validate(attrs)
        # The stock check is signature, expiry and blacklist only: a revoked access token would pass it.
        JWTAuthentication().get_user(UntypedToken(attrs["token"]))
        return data


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """Rotate a refresh token within its session; a replayed one ends the session (users.services.session_refresh)."""

    def validate(self, attrs: dict) -> dict:
        try:
            return session_refresh(attrs["refresh"])
        except SessionRefused as exc:
            raise AuthenticationFailed(exc.message, exc.code) from None
