"""The User model: email login, case-insensitive uniqueness enforced by the database itself."""

import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError

from users.models import User

pytestmark = pytest.mark.django_db


def test_create_user_and_superuser_take_email_and_username():
    user = User.objects.create_user(email="dan@example.com", username="dan", password="pw-Secret-1")
    admin = User.objects.create_superuser(email="root@example.com", username="root", password="pw-Secret-1")

    assert (user.email, user.username, user.is_staff) == ("dan@example.com", "dan", False)
    assert user.check_password("pw-Secret-1")
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert str(user) == "dan@example.com"


def test_email_is_unique_ignoring_case_in_the_database():
    User.objects.create_user(email="dan@example.com", username="dan")

    with pytest.raises(IntegrityError):
        User.objects.create_user(email="DAN@example.com", username="dan2")


def test_username_is_unique_ignoring_case_in_the_database():
    User.objects.create_user(email="dan@example.com", username="dan")

    with pytest.raises(IntegrityError):
        User.objects.create_user(email="other@example.com", username="DAN")


def test_authenticate_finds_the_user_by_email_in_any_case():
    user = User.objects.create_user(email="dan@example.com", username="dan", password="pw-Secret-1")

    assert authenticate(email="DAN@EXAMPLE.COM", password="pw-Secret-1") == user
    assert authenticate(email="dan@example.com", password="wrong") is None
