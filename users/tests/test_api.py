"""Signup, login and refresh, through the real endpoints with real tokens."""

from datetime import timedelta

import jwt
import pytest
from django.urls import reverse

from testutils import LIST_URL, PASSWORD, login, signup
from users.models import User

pytestmark = pytest.mark.django_db


def test_signup_creates_the_user_and_answers_with_user_and_working_tokens(api_client):
    response = signup(api_client, "carol@example.com", "carol")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "tokens"}
    assert set(body["user"]) == {"id", "email", "username", "date_joined"}
    assert body["user"]["email"] == "carol@example.com"
    assert body["user"]["username"] == "carol"
    assert body["user"]["date_joined"].endswith("Z")
    assert set(body["tokens"]) == {"refresh", "access"}
    user = User.objects.get(pk=body["user"]["id"])
    assert user.check_password(PASSWORD)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['tokens']['access']}")
    assert api_client.get(LIST_URL).status_code == 200


def test_signup_never_echoes_the_password(api_client):
    body = signup(api_client, "carol@example.com", "carol").json()

    assert PASSWORD not in str(body)


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@Example.COM"])
def test_signup_refuses_an_email_already_registered_in_any_case(api_client, user, email):
    response = signup(api_client, email, "someone")

    assert response.status_code == 400
    assert response.json() == {"email": ["A user with this email already exists."]}
    assert User.objects.count() == 1


@pytest.mark.parametrize("username", ["alice", "ALICE"])
def test_signup_refuses_a_username_already_taken_in_any_case(api_client, user, username):
    response = signup(api_client, "new@example.com", username)

    assert response.status_code == 400
    assert response.json() == {"username": ["A user with that username already exists."]}
    assert User.objects.count() == 1


def test_signup_refuses_passwords_that_do_not_match(api_client):
    body = {"email": "c@example.com", "username": "c", "password": PASSWORD, "password2": PASSWORD + "x"}
    response = api_client.post(reverse("users:signup"), body, format="json")

    assert response.status_code == 400
    assert response.json() == {"password2": ["The two passwords do not match."]}
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "This password is too short. It must contain at least 8 characters."),
        ("12345678901", "This password is entirely numeric."),
        ("password123", "This password is too common."),
        ("carolexample", "The password is too similar to the email address."),
    ],
)
def test_signup_applies_djangos_password_validators(api_client, password, message):
    response = signup(api_client, "carol@example.com", "carol", password=password)

    assert response.status_code == 400
    assert message in response.json()["password"]
    assert not User.objects.exists()


def test_signup_requires_every_field(api_client):
    response = api_client.post(reverse("users:signup"), {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        field: ["This field is required."] for field in ("email", "username", "password", "password2")
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address."),
        ("username", "bad name!", "Enter a valid username."),
    ],
)
def test_signup_validates_email_and_username(api_client, field, value, message):
    body = {"email": "c@example.com", "username": "c", "password": PASSWORD, "password2": PASSWORD, field: value}
    response = api_client.post(reverse("users:signup"), body, format="json")

    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not User.objects.exists()


def test_login_returns_a_token_pair_that_authenticates(api_client, user):
    tokens = login(api_client, "alice@example.com")

    assert set(tokens) == {"refresh", "access"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get(LIST_URL).status_code == 200


def test_login_accepts_any_letter_case_of_the_email(api_client, user):
    tokens = login(api_client, "Alice@EXAMPLE.com")

    payload = jwt.decode(tokens["access"], options={"verify_signature": False})
    assert payload["user_id"] == str(user.pk)


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "alice@example.com", "password": "wrong-password"},
        {"email": "nobody@example.com", "password": PASSWORD},
    ],
)
def test_login_refuses_bad_credentials_with_the_same_answer(api_client, user, credentials):
    response = api_client.post(reverse("users:login"), credentials, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "No active account found with the given credentials"}


def test_login_requires_email_and_password(api_client):
    response = api_client.post(reverse("users:login"), {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"email": ["This field is required."], "password": ["This field is required."]}


def test_refresh_returns_a_new_access_token(api_client, user):
    tokens = login(api_client, user.email)

    response = api_client.post(reverse("users:token_refresh"), {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200
    access = response.json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api_client.get(LIST_URL).status_code == 200


@pytest.mark.parametrize("refresh", ["not-a-token", "a.b.c"])
def test_refresh_refuses_an_invalid_token(api_client, refresh):
    response = api_client.post(reverse("users:token_refresh"), {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_token_lifetimes_are_24_hours_and_7_days(api_client, user):
    tokens = login(api_client, user.email)

    access = jwt.decode(tokens["access"], options={"verify_signature": False})
    refresh = jwt.decode(tokens["refresh"], options={"verify_signature": False})
    assert timedelta(seconds=access["exp"] - access["iat"]) == timedelta(hours=24)
    assert timedelta(seconds=refresh["exp"] - refresh["iat"]) == timedelta(days=7)


def test_image_endpoints_refuse_requests_without_a_valid_token(api_client):
    assert api_client.get(LIST_URL).json() == {"detail": "Authentication credentials were not provided."}

    api_client.credentials(HTTP_AUTHORIZATION="Bearer forged.token.value")
    response = api_client.get(LIST_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert "Log in again (POST /api/auth/login/)" in response.json()["detail"]
