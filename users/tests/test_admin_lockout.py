"""The admin login form's lockout (django-axes), through the real form; the API login is left to its throttle."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from testutils import PASSWORD, login
from users.models import User

pytestmark = pytest.mark.django_db

LOGIN_URL = "/admin/login/?next=/admin/"
WRONG_CREDENTIALS = "Please enter the correct email address and password for a staff account."
LOCKED = "Too many failed login attempts"


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_superuser(email="admin@example.com", username="admin", password=PASSWORD)


def admin_login(email: str, password: str, ip: str = "127.0.0.1", client: Client | None = None, **headers):
    return (client or Client()).post(LOGIN_URL, {"username": email, "password": password}, REMOTE_ADDR=ip, **headers)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_the_sixth_wrong_password_locks_the_account_for_the_cool_off_even_with_the_right_one(staff, settings):
    assert (settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME) == (6, timedelta(minutes=15))
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        first_five = [admin_login(staff.email, f"guess-{i}") for i in range(5)]
        sixth = admin_login(staff.email, "guess-5")
        right = admin_login(staff.email, PASSWORD, client=(client := Client()))
        page = client.get("/admin/")

    for response in first_five:
        assert response.status_code == 200
        assert WRONG_CREDENTIALS in response.content.decode()
    for response in (sixth, right):
        assert response.status_code == 429
        assert response["Retry-After"] == "900"
        body = response.content.decode()
        assert LOCKED in body and "after 6 failed attempts" in body and "Try again in 15 minutes" in body
        assert "<html" in body  # a page, in the admin's look
    assert page.status_code == 302 and page["Location"].startswith("/admin/login/")  # not logged in

    # The cool-off runs from the last attempt; after it, the right password works.
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert admin_login(staff.email, PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=14 + 15, seconds=1), tick=False):
        assert logged_in(admin_login(staff.email, PASSWORD, client=(client := Client())))
        assert client.get("/admin/").status_code == 200


def test_the_lockout_counts_one_address_across_emails_and_forged_forwarded_for_headers(staff):
    for i in range(6):
        admin_login(f"guess-{i}@example.com", "guess", HTTP_X_FORWARDED_FOR=f"10.9.9.{i}")

    assert admin_login(staff.email, PASSWORD).status_code == 429
    assert logged_in(admin_login(staff.email, PASSWORD, ip="10.0.0.2"))  # from elsewhere: allowed


def test_a_stranger_cannot_lock_the_owner_out_from_another_address(staff):
    """The attack: six wrong passwords with the admin's email, in any case or spacing, from the stranger's address."""
    stranger, owner = "203.0.113.7", "198.51.100.2"
    spellings = [staff.email, "ADMIN@example.com", "  Admin@Example.com "]
    attempts = [admin_login(spellings[i % 3], f"guess-{i}", ip=stranger) for i in range(6)]

    assert [response.status_code for response in attempts] == [200] * 5 + [429]
    # The stranger's address is locked, for this email (even with the right password) and for any other.
    assert admin_login(staff.email, PASSWORD, ip=stranger).status_code == 429
    assert admin_login("someone@example.com", "guess", ip=stranger).status_code == 429
    # The owner, from their own address, gets in at once, with no cool-off to wait out.
    assert logged_in(admin_login(staff.email, PASSWORD, ip=owner, client=(client := Client())))
    assert client.get("/admin/").status_code == 200


def test_a_stranger_on_many_addresses_locks_only_those_addresses(staff):
    for address in range(4):
        for i in range(6):
            admin_login(staff.email, f"guess-{i}", ip=f"203.0.113.{address}")

    assert admin_login(staff.email, PASSWORD, ip="203.0.113.3").status_code == 429
    assert logged_in(admin_login(staff.email, PASSWORD, ip="198.51.100.2"))
    assert User.objects.get(pk=staff.pk).last_login is not None


def test_the_lockout_counts_one_email_from_one_address_in_any_letter_case(staff):
    for i in range(5):
        admin_login("ADMIN@example.com" if i % 2 else staff.email, "guess", ip="10.0.0.10")
    # Five failures of the pair: the right password still works, and starts the count again.
    assert logged_in(admin_login(staff.email, PASSWORD, ip="10.0.0.10"))

    for i in range(6):
        admin_login("ADMIN@example.com" if i % 2 else staff.email, "guess", ip="10.0.0.10")

    assert admin_login(staff.email, PASSWORD, ip="10.0.0.10").status_code == 429


def test_a_success_before_the_limit_starts_the_count_again(staff):
    for _ in range(5):
        admin_login(staff.email, "guess")
    assert logged_in(admin_login(staff.email, PASSWORD))

    for _ in range(5):
        assert admin_login(staff.email, "guess").status_code == 200
    assert logged_in(admin_login(staff.email, PASSWORD))


def test_staff_can_clear_a_lockout(staff):
    for _ in range(6):
        admin_login(staff.email, "guess")
    assert admin_login(staff.email, PASSWORD).status_code == 429

    call_command("axes_reset_username", staff.email.lower(), verbosity=0)
    call_command("axes_reset_ip", "127.0.0.1", verbosity=0)

    assert logged_in(admin_login(staff.email, PASSWORD))


def test_the_api_login_is_not_counted_nor_locked_by_the_admin_lockout(staff, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "100/min"},
    }
    api = APIClient()
    wrong = [
        api.post("/api/auth/login/", {"email": staff.email, "password": "guess"}, format="json").status_code
        for _ in range(8)
    ]

    assert wrong == [401] * 8
    assert AccessAttempt.objects.count() == 0
    assert logged_in(admin_login(staff.email, PASSWORD))

    for _ in range(6):
        admin_login(user.email, "guess", ip="10.0.0.5")
    assert set(login(APIClient(REMOTE_ADDR="10.0.0.5"), user.email)) == {"refresh", "access"}


def test_the_api_login_keeps_its_throttle(user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"},
    }
    api = APIClient()

    statuses = [
        api.post("/api/auth/login/", {"email": user.email, "password": "guess"}, format="json").status_code
        for _ in range(3)
    ]

    assert statuses == [401, 401, 429]
