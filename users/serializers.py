"""Signup, the public view of a user, the user's own account and password, and token checks."""
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import UntypedToken

from .models import EMAIL_TAKEN, USERNAME_TAKEN, User
from .services import password_change, token_pair_for

PASSWORD_INCORRECT = "The password is incorrect."


class PasswordField(serializers.CharField):
    """A password going in: never echoed, never trimmed, typed into a password box (simplejwt's model)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("style", {})["input_type"] = "password"
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("trim_whitespace", False)
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

    def _other_users(self) -> QuerySet[User]:
        return User.objects.exclude(pk=self.instance.pk) if self.instance is not None else User.objects.all()

    def validate_email(self, value: str) -> str:
        value = User.objects.normalize_email(value)
        if self._other_users().filter(email__iexact=value).exists():
            raise serializers.ValidationError(EMAIL_TAKEN)
        return value

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
        extra_kwargs = {"email": {"validators": []}, "username": {"validators": []}}

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
        return User.objects.create_user(**validated_data)

    def to_representation(self, instance: User) -> dict:
        return {"user": UserSerializer(instance, context=self.context).data, "tokens": token_pair_for(instance)}


class AccountSerializer(AccountFieldsMixin, serializers.ModelSerializer):
    """The current user's own account: change username or email; a new email needs the current password."""

    password = PasswordField(
        required=False, allow_blank=True, help_text="The current password; required only to change the email."
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
                raise serializers.ValidationError({"password": [PASSWORD_INCORRECT]})
        return attrs


class PasswordChangeSerializer(serializers.Serializer):
    """Change the current user's password: every token issued before stops working."""

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
