"""The user's own account: read and change it, change the password, verify tokens; through the real endpoints."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from testutils import PASSWORD, bearer, login
from users.models import User
from users.services import token_pair_for

pytestmark = pytest.mark.django_db

ME_URL = "/api/auth/me/"
PASSWORD_CHANGE_URL = "/api/auth/password/change/"
VERIFY_URL = "/api/auth/token/verify/"
NEW_PASSWORD = "Battery-Staple-77"


def account(user: User) -> dict:
    """The user as GET /api/auth/me/ should show it, read from the database."""
    user.refresh_from_db()
    return {
        "id": user.pk,
        "email": user.email,
        "username": user.username,
        "date_joined": user.date_joined.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "email_verified": user.email_verified,
        # No images and no quota (users/tests/test_usage.py shows them counting).
        "usage": {"bytes": 0, "images": 0, "quota_bytes": None},
    }


def refresh(client: APIClient, token: str):
    return client.post(reverse("users:token_refresh"), {"refresh": token}, format="json")


def verify(client: APIClient, token: str):
    return client.post(reverse("users:token_verify"), {"token": token}, format="json")


def change_password(client: APIClient, old: str = PASSWORD, new: str = NEW_PASSWORD):
    return client.post(PASSWORD_CHANGE_URL, {"old_password": old, "new_password": new}, format="json")


def test_urls_have_the_names_and_paths_of_the_spec():
    assert reverse("users:me") == ME_URL
    assert reverse("users:password_change") == PASSWORD_CHANGE_URL
    assert reverse("users:token_verify") == VERIFY_URL


# --- GET /api/auth/me/ --------------------------------------------------------------------------


def test_me_shows_the_current_user(auth_client, user, other_user):
    response = auth_client.get(ME_URL)

    assert response.status_code == 200
    assert response.json() == account(user)
    assert response.json()["date_joined"].endswith("Z")


def test_me_needs_a_token(api_client, user):
    response = api_client.get(ME_URL)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert api_client.patch(ME_URL, {"username": "mallory"}, format="json").status_code == 401
    assert User.objects.get(pk=user.pk).username == "alice"


# --- PATCH/PUT /api/auth/me/: username -----------------------------------------------------------


def test_patch_changes_the_username(auth_client, user, other_user):
    response = auth_client.patch(ME_URL, {"username": "alicia"}, format="json")

    assert response.status_code == 200
    assert response.json() == account(user)
    assert response.json()["username"] == "alicia"
    assert User.objects.get(pk=other_user.pk).username == "bob"


def test_patch_may_change_the_letter_case_of_ones_own_username(auth_client, user):
    response = auth_client.patch(ME_URL, {"username": "Alice"}, format="json")

    assert response.status_code == 200
    assert account(user)["username"] == "Alice"


@pytest.mark.parametrize("username", ["bob", "BOB"])
def test_patch_refuses_a_username_taken_by_another_user_in_any_case(auth_client, user, other_user, username):
    response = auth_client.patch(ME_URL, {"username": username}, format="json")

    assert response.status_code == 400
    assert response.json() == {"username": ["A user with that username already exists."]}
    assert account(user)["username"] == "alice"


def test_patch_refuses_an_invalid_username(auth_client, user):
    response = auth_client.patch(ME_URL, {"username": "bad name!"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]
    }
    assert account(user)["username"] == "alice"


def test_id_and_date_joined_cannot_be_changed(auth_client, user):
    before = account(user)

    response = auth_client.patch(ME_URL, {"id": user.pk + 100, "date_joined": "2000-01-01T00:00:00Z"}, format="json")

    assert response.status_code == 200
    assert response.json() == before
    assert account(user) == before
    assert User.objects.filter(pk=user.pk + 100).exists() is False


def test_put_needs_every_writable_field_and_applies_the_same_rules(auth_client, user, other_user):
    assert auth_client.put(ME_URL, {"username": "alicia"}, format="json").json() == {
        "email": ["This field is required."]
    }
    taken = auth_client.put(ME_URL, {"email": "alice@example.com", "username": "Bob"}, format="json")
    assert taken.json() == {"username": ["A user with that username already exists."]}
    no_password = auth_client.put(ME_URL, {"email": "new@example.com", "username": "alice"}, format="json")
    assert no_password.json() == {"password": ["Enter your current password to change the email."]}
    assert account(user)["username"] == "alice"

    body = {"email": "new@example.com", "username": "alicia", "password": PASSWORD}
    response = auth_client.put(ME_URL, body, format="json")

    assert response.status_code == 200
    assert response.json() == account(user)
    assert (response.json()["email"], response.json()["username"]) == ("new@example.com", "alicia")


# --- PATCH /api/auth/me/: email ------------------------------------------------------------------


def test_patch_changes_the_email_with_the_current_password(auth_client, user):
    response = auth_client.patch(ME_URL, {"email": "Alice.New@EXAMPLE.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json() == account(user)
    assert response.json()["email"] == "Alice.New@example.com"  # normalized as at signup: the domain part
    assert PASSWORD not in str(response.json())
    assert user.check_password(PASSWORD)  # the password was checked, not stored again
    assert set(login(APIClient(), "alice.new@example.com")) == {"refresh", "access"}
    old = APIClient().post(reverse("users:login"), {"email": "alice@example.com", "password": PASSWORD}, format="json")
    assert old.status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"email": "new@example.com"}, "Enter your current password to change the email."),
        ({"email": "new@example.com", "password": ""}, "Enter your current password to change the email."),
        ({"email": "new@example.com", "password": "wrong-password"}, "The password is incorrect."),
    ],
)
def test_patch_refuses_a_new_email_without_the_right_password(auth_client, user, body, message):
    response = auth_client.patch(ME_URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"password": [message]}
    assert account(user)["email"] == "alice@example.com"


@pytest.mark.parametrize("email", ["bob@example.com", "BOB@Example.com"])
def test_patch_refuses_an_email_of_another_user_in_any_case(auth_client, user, other_user, email):
    response = auth_client.patch(ME_URL, {"email": email, "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert response.json() == {"email": ["A user with this email already exists."]}
    assert account(user)["email"] == "alice@example.com"
    assert account(other_user)["email"] == "bob@example.com"


def test_patch_refuses_an_invalid_email(auth_client, user):
    response = auth_client.patch(ME_URL, {"email": "not-an-email", "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert response.json() == {"email": ["Enter a valid email address."]}
    assert account(user)["email"] == "alice@example.com"


def test_patch_takes_the_same_email_in_another_case_without_a_password(auth_client, user):
    response = auth_client.patch(ME_URL, {"email": "ALICE@example.com"}, format="json")

    assert response.status_code == 200
    assert response.json() == account(user)
    assert response.json()["email"] == "ALICE@example.com"
    assert set(login(APIClient(), "alice@example.com")) == {"refresh", "access"}


# --- POST /api/auth/password/change/ -------------------------------------------------------------


def test_password_change_ends_every_session_and_answers_with_working_tokens(api_client, user, other_user):
    sessions = [login(APIClient(), user.email) for _ in range(2)]
    others = login(APIClient(), other_user.email)

    response = change_password(bearer(sessions[0]["access"]))

    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"refresh", "access"}
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    for old in sessions:
        assert refresh(api_client, old["refresh"]).status_code == 401
        stale = bearer(old["access"]).get(ME_URL)
        assert stale.status_code == 401
        assert stale.json()["code"] == "password_changed"
    # Every refresh token of the user is blacklisted, the new one aside; the other user's are untouched.
    outstanding = OutstandingToken.objects.filter(user=user)
    assert outstanding.filter(blacklistedtoken__isnull=True).get().token == tokens["refresh"]
    assert not BlacklistedToken.objects.filter(token__user=other_user).exists()
    assert bearer(others["access"]).get(ME_URL).status_code == 200
    # The new pair works: access authenticates, refresh refreshes.
    assert bearer(tokens["access"]).get(ME_URL).json() == account(user)
    assert refresh(api_client, tokens["refresh"]).status_code == 200
    # Login takes the new password only.
    assert set(login(APIClient(), user.email, NEW_PASSWORD)) == {"refresh", "access"}
    body = {"email": user.email, "password": PASSWORD}
    assert APIClient().post(reverse("users:login"), body, format="json").status_code == 401


def test_password_change_keeps_tokens_blacklisted_earlier(auth_client, user):
    earlier = token_pair_for(user)
    assert (
        bearer(earlier["access"])
        .post(reverse("users:logout"), {"refresh": earlier["refresh"]}, format="json")
        .status_code
        == 200
    )
    logged_out = BlacklistedToken.objects.get(token__token=earlier["refresh"])

    assert change_password(auth_client).status_code == 200

    assert BlacklistedToken.objects.filter(pk=logged_out.pk, blacklisted_at=logged_out.blacklisted_at).exists()
    assert OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).count() == 1  # the new one


def test_password_change_blacklists_with_a_constant_number_of_queries(user):
    def queries_with(sessions: int) -> int:
        user.set_password(PASSWORD)
        user.save()
        for _ in range(sessions):
            token_pair_for(user)
        client = bearer(token_pair_for(user)["access"])
        with CaptureQueriesContext(connection) as queries:
            assert change_password(client).status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(6)
    assert OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).count() == 1


def test_password_change_refuses_a_wrong_old_password(auth_client, user):
    response = change_password(auth_client, old="wrong-password")

    assert response.status_code == 400
    assert response.json() == {"old_password": ["The password is incorrect."]}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not BlacklistedToken.objects.exists()
    assert auth_client.get(ME_URL).status_code == 200


@pytest.mark.parametrize(
    ("new", "messages"),
    [
        ("12345678", ["This password is too common.", "This password is entirely numeric."]),
        ("short1!", ["This password is too short. It must contain at least 8 characters."]),
        ("aliceexample", ["The password is too similar to the email address."]),
    ],
)
def test_password_change_applies_djangos_password_validators(auth_client, user, new, messages):
    response = change_password(auth_client, new=new)

    assert response.status_code == 400
    assert response.json() == {"new_password": messages}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not BlacklistedToken.objects.exists()


def test_password_change_requires_both_fields(auth_client, user):
    response = auth_client.post(PASSWORD_CHANGE_URL, {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"old_password": ["This field is required."], "new_password": ["This field is required."]}


def test_password_change_needs_a_token(api_client, user):
    response = change_password(api_client)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_is_throttled_like_login(auth_client, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"},
    }

    statuses = [change_password(auth_client, old=f"guess-{i}").status_code for i in range(3)]

    assert statuses == [400, 400, 429]
    assert change_password(auth_client).status_code == 429  # even the right password, until the minute ends
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- POST /api/auth/token/verify/ ----------------------------------------------------------------


def test_verify_accepts_valid_access_and_refresh_tokens(api_client, user):
    tokens = token_pair_for(user)

    for token in tokens.values():
        response = verify(api_client, token)
        assert response.status_code == 200
        assert response.json() == {}


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c"])
def test_verify_refuses_an_invalid_token(api_client, token):
    response = verify(api_client, token)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "The token is invalid: malformed, or not signed by this server (tokens issued before its SECRET_KEY "
        "or JWT_SIGNING_KEY changed stop working). Log in again (POST /api/auth/login/).",
        "code": "token_invalid",
    }


def test_verify_is_unaffected_by_logout_for_the_access_token(api_client, user):
    tokens = token_pair_for(user)
    logout = bearer(tokens["access"]).post(reverse("users:logout"), {"refresh": tokens["refresh"]}, format="json")
    assert logout.status_code == 200

    # Blacklisting names the refresh token only: the access token lives on until it expires.
    assert verify(api_client, tokens["access"]).status_code == 200
    assert verify(api_client, tokens["refresh"]).status_code == 400
    assert verify(api_client, tokens["refresh"]).json() == {"non_field_errors": ["Token is blacklisted"]}


def test_verify_refuses_tokens_issued_before_a_password_change(api_client, auth_client, user):
    old = token_pair_for(user)
    new = change_password(auth_client).json()

    response = verify(api_client, old["access"])

    assert response.status_code == 401
    assert response.json() == {"detail": "The user's password has been changed.", "code": "password_changed"}
    assert verify(api_client, new["access"]).status_code == 200


def test_verify_refuses_a_token_of_a_deleted_user(api_client, user):
    access = token_pair_for(user)["access"]
    user.delete()

    response = verify(api_client, access)

    assert response.status_code == 401
    assert response.json() == {"detail": "User not found", "code": "user_not_found"}


def test_account_writes_are_throttled_like_login_but_reads_are_not(auth_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"},
    }
    wrong = {"email": "new@example.com", "password": "guess"}

    statuses = [auth_client.patch(ME_URL, wrong, format="json").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    assert auth_client.get(ME_URL).status_code == 200
