"""Password reset through the real endpoints, the mail received by a real SMTP server on loopback."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from testutils import PASSWORD, bearer, free_port, login
from users.models import User

pytestmark = pytest.mark.django_db

RESET_URL = "/api/auth/password/reset/"
CONFIRM_URL = "/api/auth/password/reset/confirm/"
ME_URL = "/api/auth/me/"
REFRESH_URL = "/api/auth/token/refresh/"
NEW_PASSWORD = "Battery-Staple-77"
SENT = {"detail": "If an account has this email, a link to reset its password is on its way."}
BAD_LINK = {"token": ["This password reset link is invalid, expired or already used."]}


@pytest.fixture(autouse=True)
def _reset_url(settings) -> None:
    settings.PASSWORD_RESET_URL = "https://app.example.com/reset/{uid}/{token}/"


def ask_reset(client: APIClient, email: str, capture):
    with capture(execute=True):  # the mail goes once the request's transaction commits
        return client.post(RESET_URL, {"email": email}, format="json")


def link_parts(mailbox, address: str) -> dict:
    """uid and token from the one reset link mailed to the address."""
    [message] = mailbox.messages_to(address)
    match = re.fullmatch(r"https://app\.example\.com/reset/([^/]+)/([^/]+)/", mailbox.link_in(message))
    assert match, mailbox.link_in(message)
    return {"uid": match[1], "token": match[2]}


def confirm(client: APIClient, parts: dict, new_password: str = NEW_PASSWORD):
    return client.post(CONFIRM_URL, {**parts, "new_password": new_password}, format="json")


def test_reset_mail_reaches_the_smtp_server_and_its_link_works_once(
    api_client, user, other_user, mailbox, django_capture_on_commit_callbacks, settings
):
    sessions = [login(APIClient(), user.email) for _ in range(2)]
    others = login(APIClient(), other_user.email)

    response = ask_reset(api_client, "ALICE@example.com", django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert response.json() == SENT
    [(recipients, message)] = mailbox.received
    assert recipients == [user.email]
    assert message["Subject"] == "Reset your password"
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert "60 minutes" in message.get_content()
    parts = link_parts(mailbox, user.email)

    used = confirm(api_client, parts)

    assert used.status_code == 200
    assert used.json() == {"detail": "Your password has been set. Log in with it."}
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.email_verified is True  # the link reached the mailbox
    # Every earlier session has ended, access and refresh tokens alike; the other user's has not.
    for old in sessions:
        assert bearer(old["access"]).get(ME_URL).json()["code"] == "password_changed"
        assert api_client.post(REFRESH_URL, {"refresh": old["refresh"]}, format="json").status_code == 401
    assert bearer(others["access"]).get(ME_URL).status_code == 200
    assert set(login(APIClient(), user.email, NEW_PASSWORD)) == {"refresh", "access"}

    again = confirm(api_client, parts, "Another-Password-99")

    assert again.status_code == 400
    assert again.json() == BAD_LINK
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("email", ["nobody@example.com", "inactive@example.com"])
def test_reset_answers_the_same_for_an_email_without_an_active_account_and_mails_nothing(
    api_client, user, mailbox, django_capture_on_commit_callbacks, email
):
    User.objects.create_user(email="inactive@example.com", username="inactive", password=PASSWORD, is_active=False)

    response = ask_reset(api_client, email, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert response.json() == SENT
    assert mailbox.received == []


def test_reset_link_expires(api_client, user, mailbox, django_capture_on_commit_callbacks, settings):
    settings.PASSWORD_RESET_TIMEOUT = 600
    ask_reset(api_client, user.email, django_capture_on_commit_callbacks)
    parts = link_parts(mailbox, user.email)

    with time_machine.travel(timezone.now() + timedelta(seconds=601), tick=False):
        response = confirm(api_client, parts)

    assert response.status_code == 400
    assert response.json() == BAD_LINK
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("new", "messages"),
    [
        ("12345678", ["This password is too common.", "This password is entirely numeric."]),
        ("aliceexample", ["The password is too similar to the email address."]),
    ],
)
def test_reset_applies_djangos_password_validators_and_the_link_still_works(
    api_client, user, mailbox, django_capture_on_commit_callbacks, new, messages
):
    ask_reset(api_client, user.email, django_capture_on_commit_callbacks)
    parts = link_parts(mailbox, user.email)

    response = confirm(api_client, parts, new)

    assert response.status_code == 400
    assert response.json() == {"new_password": messages}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert confirm(api_client, parts).status_code == 200


def test_reset_refuses_forged_or_mismatched_links(
    api_client, user, other_user, mailbox, django_capture_on_commit_callbacks
):
    ask_reset(api_client, user.email, django_capture_on_commit_callbacks)
    parts = link_parts(mailbox, user.email)
    other_uid = urlsafe_base64_encode(force_bytes(other_user.pk))

    for forged in [
        {**parts, "uid": "junk"},
        {**parts, "uid": ""},
        {**parts, "token": "1-abc"},
        {**parts, "uid": other_uid},
        {"uid": "MTAwMDAwMDAwMDAwMDAwMDAwMDAw", "token": parts["token"]},
    ]:
        response = confirm(api_client, forged)
        assert response.status_code == 400, forged
        assert set(response.json()) <= {"uid", "token"}, response.json()

    for account in (user, other_user):
        account.refresh_from_db()
        assert account.check_password(PASSWORD)


def test_reset_is_throttled_like_login(api_client, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"},
    }

    asks = [api_client.post(RESET_URL, {"email": user.email}, format="json").status_code for _ in range(3)]
    confirms = [
        api_client.post(CONFIRM_URL, {"uid": "x", "token": "y", "new_password": "z"}, format="json").status_code
        for _ in range(1)
    ]

    assert asks == [202, 202, 429]
    assert confirms == [429]  # the same budget as login: one client's guesses are counted together


def test_reset_still_answers_202_when_the_mail_server_is_down(
    api_client, user, mailbox, django_capture_on_commit_callbacks, settings, caplog
):
    settings.EMAIL_PORT = free_port()  # nothing listens there: the mail server is down

    response = ask_reset(api_client, user.email, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert response.json() == SENT
    assert mailbox.received == []
    [failure] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert "send_password_reset_mail" in failure.getMessage()
    assert "Connection refused" in failure.getMessage()
