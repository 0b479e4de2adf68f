"""Storage usage and quota of an account: GET /api/auth/me/ and the user admin.

users never imports images: the usage comes through the hook named by settings.USER_USAGE_BACKEND.
"""

import ast
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from images.models import Image
from testutils import PROJECT
from users.models import User

pytestmark = pytest.mark.django_db

ME_URL = "/api/auth/me/"


def test_me_shows_usage_of_originals_and_open_uploads_not_variants_and_the_default_quota(
    auth_client, upload, settings, django_capture_on_commit_callbacks
):
    settings.IMAGE_USER_QUOTA_BYTES = 5_000_000
    with django_capture_on_commit_callbacks(execute=True):  # the variants, made inline after commit
        upload()
        upload()
    signed = auth_client.post("/api/images/uploads/", {"filename": "a.png", "size": 1234}, format="json")

    usage = auth_client.get(ME_URL).json()["usage"]

    images = list(Image.objects.all())
    assert signed.status_code == 201 and all(image.variants for image in images)
    originals = sum(default_storage.size(image.image.name) for image in images)
    assert usage == {"bytes": originals + 1234, "images": 2, "quota_bytes": 5_000_000}


def test_me_shows_the_users_own_quota_over_the_default(auth_client, user, other_client, settings):
    settings.IMAGE_USER_QUOTA_BYTES = 1000
    user.quota_bytes = 123_456
    user.save()

    assert auth_client.get(ME_URL).json()["usage"] == {"bytes": 0, "images": 0, "quota_bytes": 123_456}
    assert other_client.get(ME_URL).json()["usage"] == {"bytes": 0, "images": 0, "quota_bytes": 1000}


def test_usage_is_read_only(auth_client, user):
    response = auth_client.patch(ME_URL, {"usage": {"quota_bytes": 10**12}}, format="json")

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.quota_bytes is None


def test_the_admin_lists_each_users_usage_and_staff_set_a_quota(
    admin_client, auth_client, user, other_user, upload, make_image
):
    upload()
    upload(make_image(size=(40, 30)))
    auth_client.post("/api/images/uploads/", {"filename": "a.png", "size": 1000}, format="json")
    auth_client.post("/api/images/uploads/", {"filename": "b.png", "size": 2000}, format="json")
    size = sum(image.size for image in Image.objects.all()) + 3000  # two originals and two open uploads
    changelist = reverse("admin:users_user_changelist")

    html = admin_client.get(changelist, {"o": "7"}).content.decode()  # sorted by usage
    assert f"{filesizeformat(size)} in 2 image(s)" in html  # each counted once, however many of the other
    assert "0\xa0bytes in 0 image(s)" in html

    change = reverse("admin:users_user_change", args=[user.pk])
    page = admin_client.get(change).content.decode()
    assert f"{filesizeformat(size)} in 2 image(s), of no quota" in page
    response = admin_client.post(
        change,
        {
            "email": user.email,
            "username": user.username,
            "is_active": "on",
            "quota_bytes": "2048",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    user.refresh_from_db()
    assert user.quota_bytes == 2048
    assert "2.0\xa0KB" in admin_client.get(changelist).content.decode()


def test_users_never_imports_images():
    for path in Path(PROJECT, "users").rglob("*.py"):
        if "tests" in path.parts:  # tests may use both apps
            continue
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {name for name in imported if name.split(".")[0] == "images"}, path


def test_the_quota_field_is_optional_on_the_model():
    field = User._meta.get_field("quota_bytes")

    assert field.null and field.blank
