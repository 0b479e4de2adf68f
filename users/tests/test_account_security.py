"""What the account endpoints give away and what they hash: no email probing, no password over 4096 characters."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from testutils import PASSWORD, signup
from users.models import User

pytestmark = pytest.mark.django_db

ME_URL = "/api/auth/me/"
TOO_LONG = "Aa-1" * 1024 + "x"  # 4097 characters
LONGEST = "Aa-1" * 1024  # 4096


@pytest.mark.parametrize(
    ("password", "message"),
    [(None, "Enter your current password to change the email."), ("wrong-password", "The password is incorrect.")],
)
@pytest.mark.parametrize("email", ["bob@example.com", "nobody@example.com"])
def test_patch_says_the_same_about_a_taken_and_a_free_email_until_the_password_is_right(
    auth_client, user, other_user, email, password, message
):
    body = {"email": email} if password is None else {"email": email, "password": password}

    response = auth_client.patch(ME_URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"password": [message]}
    assert User.objects.get(pk=user.pk).email == "alice@example.com"


def test_patch_says_an_email_is_taken_only_with_the_right_password(auth_client, user, other_user):
    response = auth_client.patch(ME_URL, {"email": "BOB@example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert response.json() == {"email": ["A user with this email already exists."]}


def test_the_validator_refuses_passwords_over_4096_characters():
    validate_password(LONGEST)
    with pytest.raises(ValidationError) as refused:
        validate_password(TOO_LONG)

    assert refused.value.messages == ["This password is too long. It must contain at most 4096 characters."]


def test_signup_refuses_a_password_over_4096_characters(api_client):
    response = signup(api_client, "carol@example.com", "carol", TOO_LONG)

    assert response.status_code == 400
    assert response.json() == {
        "password": ["Ensure this field has no more than 4096 characters."],
        "password2": ["Ensure this field has no more than 4096 characters."],
    }
    assert not User.objects.filter(email="carol@example.com").exists()
    assert signup(api_client, "carol@example.com", "carol", LONGEST).status_code == 201


def test_login_refuses_an_over_long_password_without_checking_it(api_client, user):
    response = api_client.post(
        reverse("users:login"), {"email": user.email, "password": "x" * 1_000_000}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"password": ["Ensure this field has no more than 4096 characters."]}


def test_the_admin_refuses_an_over_long_password(client):
    client.force_login(User.objects.create_superuser(email="admin@example.com", username="admin", password=PASSWORD))

    response = client.post(
        reverse("admin:users_user_add"),
        {
            "email": "carol@example.com",
            "username": "carol",
            "usable_password": "true",
            "password1": TOO_LONG,
            "password2": TOO_LONG,
        },
    )

    assert response.status_code == 200
    assert "This password is too long. It must contain at most 4096 characters." in response.content.decode()
    assert not User.objects.filter(email="carol@example.com").exists()


def test_reset_confirm_refuses_an_over_long_password(user):
    response = APIClient().post(
        reverse("users:password_reset_confirm"), {"uid": "x", "token": "y", "new_password": TOO_LONG}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["new_password"] == ["Ensure this field has no more than 4096 characters."]


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/logout/all/",
        "/api/auth/email/verify/resend/",
        "/api/auth/email/verify/",
        "/api/auth/password/reset/",
        "/api/auth/password/reset/confirm/",
        "/api/auth/me/",
    ],
)
def test_options_describes_the_account_endpoints(auth_client, path):
    response = auth_client.options(path)

    assert response.status_code == 200
    assert response.json()["name"]
