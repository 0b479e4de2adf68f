"""Sessions through the real endpoints: refresh reuse ends the session, logout everywhere, an absolute
lifetime carried through rotation, and refresh refusing tokens older than the last password change."""

import base64
import json
import logging
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from testutils import PASSWORD, bearer, login

pytestmark = pytest.mark.django_db

ME_URL = "/api/auth/me/"
REFRESH_URL = "/api/auth/token/refresh/"
LOGOUT_ALL_URL = "/api/auth/logout/all/"
DAY = 24 * 3600


def refresh(token: str):
    return APIClient().post(REFRESH_URL, {"refresh": token}, format="json")


def claims(token: str) -> dict:
    """What a client can read in a JWT: its payload."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def live_refresh_tokens(user, session: str | None = None) -> set[str]:
    """The user's refresh tokens not yet blacklisted (of one session, when named); signup's session is one."""
    tokens = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).values_list("token", flat=True)
    return {token for token in tokens if session is None or claims(token)["sid"] == session}


def test_urls():
    assert reverse("users:logout_all") == LOGOUT_ALL_URL


# --- Refresh token reuse ------------------------------------------------------------------------


def test_replaying_a_rotated_refresh_token_revokes_the_newer_one_and_is_logged(user, other_user, caplog):
    stolen = login(APIClient(), user.email)["refresh"]
    laptop = login(APIClient(), user.email)  # another session of the same user
    others = login(APIClient(), other_user.email)
    rotated = refresh(stolen).json()  # the thief (or the owner) rotates first

    with caplog.at_level(logging.WARNING, logger="users.services"):
        replay = refresh(stolen)
    [warning] = [r for r in caplog.records if r.name == "users.services"]

    assert replay.status_code == 401
    assert replay.json() == {
        "detail": "The refresh token has been used already or logged out: log in again (POST /api/auth/login/).",
        "code": "token_blacklisted",
    }
    # The newer token of that session is refused too: whoever holds it must log in again.
    assert refresh(rotated["refresh"]).status_code == 401
    assert live_refresh_tokens(user, claims(stolen)["sid"]) == set()
    assert warning.levelname == "WARNING"
    message = warning.getMessage()
    assert f"user {user.pk}" in message and claims(stolen)["sid"] in message and "1 live refresh token" in message
    # Only that session: the user's other session and the other user's go on.
    assert live_refresh_tokens(user, claims(laptop["refresh"])["sid"]) == {laptop["refresh"]}
    assert refresh(laptop["refresh"]).status_code == 200
    assert refresh(others["refresh"]).status_code == 200


def test_rotation_keeps_the_session_and_hands_out_a_new_token_each_time(user):
    first = login(APIClient(), user.email)

    second = refresh(first["refresh"]).json()
    third = refresh(second["refresh"]).json()

    sessions = {claims(token["refresh"])["sid"] for token in (first, second, third)}
    started = {claims(token["refresh"])["auth_time"] for token in (first, second, third)}
    assert len(sessions) == 1 and len(started) == 1
    assert len({claims(token["refresh"])["jti"] for token in (first, second, third)}) == 3
    assert claims(third["access"])["sid"] == sessions.pop()
    assert live_refresh_tokens(user, claims(first["refresh"])["sid"]) == {third["refresh"]}


# --- Absolute session lifetime ------------------------------------------------------------------


def test_a_session_refreshed_every_six_days_ends_thirty_days_after_the_login(user, settings):
    assert settings.JWT_SESSION_MAX_DAYS == 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        tokens = login(APIClient(), user.email)
    began = claims(tokens["refresh"])["auth_time"]

    for day in (6, 12, 18, 24):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            response = refresh(tokens["refresh"])
            assert response.status_code == 200, (day, response.json())
            tokens = response.json()
            assert bearer(tokens["access"]).get(ME_URL).status_code == 200
    # The 7-day refresh window no longer slides past the session's end.
    assert claims(tokens["refresh"])["exp"] == began + 30 * DAY
    assert claims(tokens["refresh"])["auth_time"] == began

    with time_machine.travel(start + timedelta(days=30, seconds=1), tick=False):
        ended = refresh(tokens["refresh"])
        access = bearer(tokens["access"]).get(ME_URL)

    assert ended.status_code == 401
    assert ended.json()["code"] == "token_expired"  # capped at the session's end: past it, expired
    assert access.status_code == 401
    assert set(login(APIClient(), user.email)) == {"refresh", "access"}  # a new login starts a new session


def test_access_tokens_end_with_their_session(user, settings):
    settings.JWT_SESSION_MAX_DAYS = 0  # every session is over at once: nothing minted outlives it

    tokens = login(APIClient(), user.email)

    assert claims(tokens["access"])["exp"] == claims(tokens["access"])["auth_time"]
    assert claims(tokens["refresh"])["exp"] == claims(tokens["refresh"])["auth_time"]
    assert refresh(tokens["refresh"]).status_code == 401
    assert bearer(tokens["access"]).get(ME_URL).status_code == 401


def test_a_shorter_max_age_set_later_ends_older_sessions_at_refresh(user, settings):
    tokens = login(APIClient(), user.email)
    start = timezone.now()
    settings.JWT_SESSION_MAX_DAYS = 2

    with time_machine.travel(start + timedelta(days=3), tick=False):
        response = refresh(tokens["refresh"])

    assert response.status_code == 401
    assert response.json() == {
        "detail": "This session has reached its maximum age: log in again.",
        "code": "session_expired",
    }


# --- Log out everywhere -------------------------------------------------------------------------


def test_logout_all_ends_every_session_of_the_user_access_tokens_too(user, other_user):
    sessions = [login(APIClient(), user.email) for _ in range(3)]
    others = login(APIClient(), other_user.email)

    response = bearer(sessions[0]["access"]).post(LOGOUT_ALL_URL)

    assert response.status_code == 204
    assert response.content == b""
    for session in sessions:
        refused = bearer(session["access"]).get(ME_URL)
        assert refused.status_code == 401
        assert refused.json() == {"detail": "This session has been logged out.", "code": "session_ended"}
        assert refresh(session["refresh"]).status_code == 401
    assert live_refresh_tokens(user) == set()
    # The other user is untouched; the user can log in again at once.
    assert bearer(others["access"]).get(ME_URL).status_code == 200
    assert refresh(others["refresh"]).status_code == 200
    again = login(APIClient(), user.email)
    assert bearer(again["access"]).get(ME_URL).status_code == 200
    assert refresh(again["refresh"]).status_code == 200


def test_logout_all_needs_an_access_token(api_client, user):
    tokens = login(APIClient(), user.email)

    assert api_client.post(LOGOUT_ALL_URL).status_code == 401
    assert bearer(tokens["refresh"]).post(LOGOUT_ALL_URL).status_code == 401  # a refresh token is not one
    assert refresh(tokens["refresh"]).status_code == 200


def test_logout_ends_only_its_own_session(user):
    kept, ended = login(APIClient(), user.email), login(APIClient(), user.email)

    response = bearer(ended["access"]).post(reverse("users:logout"), {"refresh": ended["refresh"]}, format="json")

    assert response.status_code == 200
    assert refresh(ended["refresh"]).status_code == 401
    assert refresh(kept["refresh"]).status_code == 200


# --- Password changed elsewhere -----------------------------------------------------------------


def test_refresh_refuses_tokens_minted_before_a_password_change_in_the_admin(client, user):
    tokens = login(APIClient(), user.email)
    staff = get_user_model().objects.create_superuser(email="admin@example.com", username="admin", password=PASSWORD)
    client.force_login(staff)

    changed = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]).replace("auth/user", "users/user"),
        {"password1": "Battery-Staple-77", "password2": "Battery-Staple-77"},
    )

    assert changed.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Battery-Staple-77")
    response = refresh(tokens["refresh"])
    assert response.status_code == 401
    assert response.json() == {"detail": "The user's password has been changed.", "code": "password_changed"}
    assert bearer(tokens["access"]).get(ME_URL).status_code == 401
    assert set(login(APIClient(), user.email, "Battery-Staple-77")) == {"refresh", "access"}
