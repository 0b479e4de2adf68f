"""Signup and the public view of a user."""
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.tokens import RefreshToken

from .models import User


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


class SignupSerializer(serializers.ModelSerializer):
    """Create an account from email, username and a password typed twice; answer with user and tokens."""

    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})
    password2 = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["email", "username", "password", "password2"]
        # The case-insensitive checks below replace the model's exact-match unique validators.
        extra_kwargs = {"email": {"validators": []}, "username": {"validators": []}}

    def validate_email(self, value: str) -> str:
        value = User.objects.normalize_email(value)
        if User.objects.filter(email__iexact=value).exists():
            raise serializers.ValidationError("A user with this email already exists.")
        return value

    def validate_username(self, value: str) -> str:
        for validator in User._meta.get_field("username").validators:
            validator(value)
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        return value

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


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """SimpleJWT's refresh, answering 401 (not 500) for a token whose user has been deleted."""

    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except User.DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account") from None
