"""Email verification through the real endpoints, the links received by a real SMTP server on loopback."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from images.models import Image
from testutils import PASSWORD, signup
from users.models import User

pytestmark = pytest.mark.django_db

VERIFY_URL = "/api/auth/email/verify/"
RESEND_URL = "/api/auth/email/verify/resend/"
ME_URL = "/api/auth/me/"
BAD_LINK = {"token": ["This verification link is invalid, expired or for an older address."]}


@pytest.fixture(autouse=True)
def _verify_url(settings) -> None:
    settings.EMAIL_VERIFY_URL = "https://app.example.com/verify?token={token}"


def mailed_token(mailbox, address: str) -> str:
    """The token of the last verification link mailed to the address."""
    message = mailbox.messages_to(address)[-1]
    assert message["Subject"] == "Verify your email address"
    match = re.fullmatch(r"https://app\.example\.com/verify\?token=(\S+)", mailbox.link_in(message))
    assert match
    return match[1]


def verify(token: str):
    return APIClient().post(VERIFY_URL, {"token": token}, format="json")


def signed_up(mailbox, capture, email: str = "carol@example.com") -> User:
    with capture(execute=True):
        response = signup(APIClient(), email, "carol")
    assert response.status_code == 201
    return User.objects.get(email=email)


def test_signup_mails_a_link_that_verifies_the_address(mailbox, django_capture_on_commit_callbacks, client):
    carol = signed_up(mailbox, django_capture_on_commit_callbacks)
    assert carol.email_verified is False
    [(recipients, _)] = mailbox.received
    assert recipients == ["carol@example.com"]

    response = verify(mailed_token(mailbox, carol.email))

    assert response.status_code == 200
    assert response.json() == {"detail": "Your email address is verified."}
    carol.refresh_from_db()
    assert carol.email_verified is True
    assert verify(mailed_token(mailbox, carol.email)).status_code == 200  # clicking twice does no harm
    # The admin shows it too.
    User.objects.create_user(email="dave@example.com", username="dave", password=PASSWORD)
    client.force_login(User.objects.create_superuser(email="admin@example.com", username="admin", password=PASSWORD))
    changelist = client.get(reverse("admin:users_user_changelist"), {"email_verified__exact": "1"}).content.decode()
    assert "carol@example.com" in changelist and "dave@example.com" not in changelist
    assert "column-email_verified" in changelist


def test_me_shows_whether_the_email_is_verified(auth_client, user, mailbox, django_capture_on_commit_callbacks):
    assert auth_client.get(ME_URL).json()["email_verified"] is False
    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.post(RESEND_URL).status_code == 202

    assert verify(mailed_token(mailbox, user.email)).status_code == 200

    assert auth_client.get(ME_URL).json()["email_verified"] is True
    assert auth_client.patch(ME_URL, {"email_verified": False}, format="json").json()["email_verified"] is True


def test_a_new_email_must_be_verified_again_and_older_links_stop_working(
    auth_client, user, mailbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(RESEND_URL)
    old_token = mailed_token(mailbox, user.email)
    assert verify(old_token).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        changed = auth_client.patch(ME_URL, {"email": "alice.new@example.com", "password": PASSWORD}, format="json")

    assert changed.status_code == 200
    assert changed.json()["email_verified"] is False
    assert verify(old_token).json() == BAD_LINK  # it names the old address
    assert verify(mailed_token(mailbox, "alice.new@example.com")).status_code == 200
    user.refresh_from_db()
    assert (user.email, user.email_verified) == ("alice.new@example.com", True)


def test_a_link_to_an_earlier_address_stays_dead_when_the_email_is_changed_back(
    auth_client, user, mailbox, django_capture_on_commit_callbacks
):
    """The attack: keep the link mailed to an address, change the email away and back, then use the old link."""
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(RESEND_URL)
    first_link = mailed_token(mailbox, user.email)
    for email in ("alice.elsewhere@example.com", user.email):
        mailbox.received.clear()
        with django_capture_on_commit_callbacks(execute=True):
            changed = auth_client.patch(ME_URL, {"email": email, "password": PASSWORD}, format="json")
        assert changed.status_code == 200 and changed.json()["email_verified"] is False

    assert verify(first_link).json() == BAD_LINK  # the same address, but mailed before the changes
    user.refresh_from_db()
    assert (user.email, user.email_verified) == ("alice@example.com", False)
    assert verify(mailed_token(mailbox, user.email)).status_code == 200  # the link mailed since works


def test_staff_changing_the_email_in_the_admin_ends_earlier_links_too(
    admin_client, auth_client, user, mailbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(RESEND_URL)
    link = mailed_token(mailbox, user.email)
    change = reverse("admin:users_user_change", args=[user.pk])
    for email in ("alice.elsewhere@example.com", user.email):
        form = {"email": email, "username": user.username, "is_active": "on"}
        assert admin_client.post(change, form).status_code == 302

    assert verify(link).json() == BAD_LINK


def test_a_verification_link_expires(mailbox, django_capture_on_commit_callbacks, settings):
    carol = signed_up(mailbox, django_capture_on_commit_callbacks)
    token = mailed_token(mailbox, carol.email)

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.EMAIL_VERIFY_TIMEOUT + 1), tick=False):
        response = verify(token)

    assert response.status_code == 400
    assert response.json() == BAD_LINK
    carol.refresh_from_db()
    assert carol.email_verified is False


@pytest.mark.parametrize("token", ["junk", "", "eyJ1c2VyIjoxLCJlbWFpbCI6ImFAYi5jIn0:forged:signature"])
def test_a_bad_token_verifies_nothing(user, token):
    response = verify(token)

    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    user.refresh_from_db()
    assert user.email_verified is False


def test_resend_says_so_when_already_verified(auth_client, user, mailbox, django_capture_on_commit_callbacks):
    User.objects.filter(pk=user.pk).update(email_verified=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(RESEND_URL)

    assert response.status_code == 200
    assert response.json() == {"detail": "Your email address is already verified."}
    assert mailbox.received == []


# --- REQUIRE_VERIFIED_EMAIL ---------------------------------------------------------------------


def test_uploads_wait_for_a_verified_email_when_required(auth_client, user, make_image, stored_files, settings):
    settings.REQUIRE_VERIFIED_EMAIL = True

    refused = auth_client.post(reverse("images:upload"), {"image": make_image()}, format="multipart")

    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Verify your email address first: open the link mailed to you, or ask for a new one."
    }
    assert not Image.objects.exists()
    assert stored_files() == []

    User.objects.filter(pk=user.pk).update(email_verified=True)
    accepted = auth_client.post(reverse("images:upload"), {"image": make_image()}, format="multipart")

    assert accepted.status_code == 201
    assert Image.objects.filter(user=user).count() == 1


def test_uploads_need_no_verification_by_default(auth_client, user, make_image, settings):
    assert settings.REQUIRE_VERIFIED_EMAIL is False

    response = auth_client.post(reverse("images:upload"), {"image": make_image()}, format="multipart")

    assert response.status_code == 201
    assert User.objects.get(pk=user.pk).email_verified is False
