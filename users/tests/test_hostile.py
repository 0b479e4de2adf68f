"""Hostile requests to the account and token endpoints: forged tokens, enumeration, throttling.

Every request may be malicious; each test checks what the client is told and what is left.
"""

from datetime import timedelta

import jwt
import pytest
import redis
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from testutils import LIST_URL, PASSWORD, TEST_CACHE_URL, bad_login, bearer, login, signup
from users.models import User

pytestmark = pytest.mark.django_db


# --- Accounts ---------------------------------------------------------------------------------


def test_an_email_in_another_case_can_neither_sign_up_again_nor_fail_to_log_in(api_client, user):
    assert signup(api_client, "ALICE@EXAMPLE.COM", "alice2").status_code == 400
    assert login(api_client, "aLiCe@ExAmPlE.cOm")["access"]
    assert User.objects.count() == 1


def test_login_does_not_reveal_whether_an_email_is_registered(api_client, user):
    known = api_client.post(reverse("users:login"), {"email": user.email, "password": "nope"}, format="json")
    unknown = api_client.post(reverse("users:login"), {"email": "x@example.com", "password": "nope"}, format="json")

    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())


@pytest.mark.parametrize("username", ["a b", "<script>", "x" * 151, "name\x00", "../admin"])
def test_invalid_usernames_are_refused(api_client, username):
    response = signup(api_client, "new@example.com", username)

    assert response.status_code == 400
    assert "username" in response.json()
    assert not User.objects.exists()


# --- Tokens ---------------------------------------------------------------------------------------


def get_with(token: str):
    return bearer(token).get(LIST_URL)


def test_a_token_signed_with_another_key_is_refused(user):
    real = jwt.decode(str(AccessToken.for_user(user)), options={"verify_signature": False})
    forged = jwt.encode(real, "an-attacker-key-that-is-not-the-signing-key", algorithm="HS256")

    response = get_with(forged)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "The token is invalid: malformed, or not signed by this server (tokens issued before its SECRET_KEY "
        "or JWT_SIGNING_KEY changed stop working). Log in again (POST /api/auth/login/).",
        "code": "token_invalid",
    }


def test_an_unsigned_alg_none_token_is_refused(user):
    real = jwt.decode(str(AccessToken.for_user(user)), options={"verify_signature": False})

    assert get_with(jwt.encode(real, None, algorithm="none")).status_code == 401


def test_an_expired_token_is_refused(user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=token.current_time - timedelta(days=2))

    response = get_with(str(token))

    assert response.status_code == 401
    assert response.json() == {
        "detail": "The access token has expired: get a new one from POST /api/auth/token/refresh/ with the "
        "refresh token.",
        "code": "token_expired",
    }


def test_a_refresh_token_is_not_an_access_token(api_client, user):
    tokens = login(api_client, user.email)

    response = get_with(tokens["refresh"])

    assert response.status_code == 401
    assert response.json() == {
        "detail": "This is a refresh token: send it to POST /api/auth/token/refresh/, then send the access token "
        "it answers.",
        "code": "token_wrong_type",
    }


def test_an_access_token_is_not_a_refresh_token(api_client, user):
    tokens = login(api_client, user.email)

    response = api_client.post(reverse("users:token_refresh"), {"refresh": tokens["access"]}, format="json")

    assert response.status_code == 401
    assert response.json() == {
        "detail": "This is an access token: send the refresh token of the same login here.",
        "code": "token_wrong_type",
    }


def test_an_expired_refresh_token_says_to_log_in_again(api_client, user):
    token = RefreshToken.for_user(user)
    token.set_exp(from_time=token.current_time - timedelta(days=8))

    response = api_client.post(reverse("users:token_refresh"), {"refresh": str(token)}, format="json")

    assert response.status_code == 401
    assert response.json() == {
        "detail": "The refresh token has expired: log in again (POST /api/auth/login/).",
        "code": "token_expired",
    }


def test_refresh_rotates_and_the_used_refresh_token_is_blacklisted(api_client, user):
    tokens = login(api_client, user.email)
    url = reverse("users:token_refresh")

    first = api_client.post(url, {"refresh": tokens["refresh"]}, format="json")
    replay = api_client.post(url, {"refresh": tokens["refresh"]}, format="json")

    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    assert replay.status_code == 401
    # The replay ends the session (reuse detection): the token the first refresh handed out is refused too.
    assert api_client.post(url, {"refresh": first.json()["refresh"]}, format="json").status_code == 401


def test_logout_blacklists_the_refresh_token(api_client, user):
    tokens = login(api_client, user.email)

    response = api_client.post(reverse("users:logout"), {"refresh": tokens["refresh"]}, format="json")
    again = api_client.post(reverse("users:token_refresh"), {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200
    assert again.status_code == 401
    assert again.json() == {
        "detail": "The refresh token has been used already or logged out: log in again (POST /api/auth/login/).",
        "code": "token_blacklisted",
    }


def test_logout_refuses_an_invalid_token(api_client):
    response = api_client.post(reverse("users:logout"), {"refresh": "junk"}, format="json")

    assert response.status_code == 401


def test_a_deactivated_account_is_refused_everywhere(api_client, user):
    tokens = login(api_client, user.email)
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert get_with(tokens["access"]).json() == {"detail": "User is inactive", "code": "user_inactive"}
    assert (
        api_client.post(reverse("users:token_refresh"), {"refresh": tokens["refresh"]}, format="json").status_code
        == 401
    )
    assert (
        api_client.post(reverse("users:login"), {"email": user.email, "password": PASSWORD}, format="json").status_code
        == 401
    )


def test_a_refresh_token_of_a_deleted_account_is_a_401(api_client, user):
    refresh = str(RefreshToken.for_user(user))
    user.delete()

    response = api_client.post(reverse("users:token_refresh"), {"refresh": refresh}, format="json")

    assert response.status_code == 401


# --- Throttling -------------------------------------------------------------------------------


def test_login_is_throttled_per_ip_with_retry_after(api_client, low_rates):
    assert [bad_login(api_client).status_code for _ in range(2)] == [401, 401]

    response = bad_login(api_client)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["detail"].startswith("Request was throttled.")
    assert bad_login(APIClient(REMOTE_ADDR="10.0.0.2")).status_code == 401  # another client is not


def test_a_forged_x_forwarded_for_does_not_dodge_the_throttle(api_client, low_rates):
    statuses = [bad_login(api_client, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(3)]

    assert statuses == [401, 401, 429]


def test_signup_and_refresh_are_throttled(api_client, low_rates):
    assert [signup(api_client, f"u{i}@example.com", f"u{i}").status_code for i in range(3)] == [201, 201, 429]
    assert User.objects.count() == 2
    url = reverse("users:token_refresh")
    statuses = [api_client.post(url, {"refresh": "x"}, format="json").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_throttle_counts_are_shared_through_redis(api_client, low_rates, settings):
    url = TEST_CACHE_URL
    server = redis.Redis.from_url(url)
    server.flushdb()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    try:
        assert bad_login(api_client).status_code == 401
        # The count lives in Redis, where every worker process reads it, not in this process.
        keys = server.keys("*throttle_login_127.0.0.1")
        assert len(keys) == 1
        assert bad_login(APIClient()).status_code == 401
        assert bad_login(APIClient()).status_code == 429
        server.delete(*keys)  # another process resetting the shared count is seen here at once
        assert bad_login(APIClient()).status_code == 401
    finally:
        server.flushdb()
