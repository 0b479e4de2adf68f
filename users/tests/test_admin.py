"""The user admin pages a staff member uses, rendered for real with a logged-in superuser (`admin_client`)."""

import pytest
from django.urls import reverse

from testutils import PASSWORD
from users.models import User

pytestmark = pytest.mark.django_db


def test_user_changelist_and_forms_render_and_search(admin_client, user, other_user):
    changelist = reverse("admin:users_user_changelist")

    html = admin_client.get(changelist, {"q": "alice"}).content.decode()
    assert "alice@example.com" in html and "bob@example.com" not in html
    assert admin_client.get(changelist, {"is_staff__exact": "0"}).status_code == 200
    assert admin_client.get(reverse("admin:users_user_change", args=[user.pk])).status_code == 200
    assert admin_client.get(reverse("admin:users_user_add")).status_code == 200


def test_admin_creates_a_user_with_an_email_login(admin_client):
    response = admin_client.post(
        reverse("admin:users_user_add"),
        {
            "email": "eve@example.com",
            "username": "eve",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(username="eve").check_password(PASSWORD)


def test_admin_refuses_an_email_that_differs_only_in_case(admin_client, user):
    response = admin_client.post(
        reverse("admin:users_user_add"),
        {
            "email": "ALICE@example.com",
            "username": "alice2",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 200
    assert "A user with this email already exists." in response.content.decode()
    assert not User.objects.filter(username="alice2").exists()
