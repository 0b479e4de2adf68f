"""DELETE /api/auth/me/ through the real endpoint: the account, its images and every stored file go."""

import pytest
from rest_framework.test import APIClient

from images.models import Image
from testutils import PASSWORD, bearer, login, use_storage
from users.models import User

pytestmark = pytest.mark.django_db

ME_URL = "/api/auth/me/"


def delete_account(client: APIClient, capture, password: str | None = PASSWORD):
    body = {} if password is None else {"password": password}
    with capture(execute=True):  # files go once the deletion commits
        return client.delete(ME_URL, body, format="json")


def test_delete_removes_the_account_its_images_and_every_local_file(
    auth_client, user, other_user, upload, make_image, stored_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # variants are made once an upload commits
        for _ in range(2):
            upload()
    other_tokens = login(APIClient(), other_user.email)
    kept = bearer(other_tokens["access"]).post("/api/images/upload/", {"image": make_image()}, format="multipart")
    assert kept.status_code == 201
    kept_files = [name for name in stored_files() if name.startswith(f"images/{other_user.pk}/")]
    assert len([name for name in stored_files() if name.startswith(f"images/{user.pk}/")]) == 6  # 2 x (original + 2)
    tokens = login(APIClient(), user.email)

    response = delete_account(auth_client, django_capture_on_commit_callbacks)

    assert response.status_code == 204
    assert response.content == b""
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Image.objects.filter(user_id=user.pk).exists()
    assert stored_files() == kept_files  # nothing of the user's is left; the other user's files stay
    assert Image.objects.filter(user=other_user).count() == 1
    # Every token of the account is refused; its email can sign up again.
    assert bearer(tokens["access"]).get(ME_URL).status_code == 401
    refreshed = APIClient().post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401
    body = {"email": user.email, "password": PASSWORD}
    assert APIClient().post("/api/auth/login/", body, format="json").status_code == 401


def test_delete_removes_every_object_from_the_s3_server(
    s3_storage, auth_client, user, upload, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # variants are made once an upload commits
        for _ in range(2):
            upload()
    assert len(s3_storage.keys()) == 6  # 2 x (original + 2 variants)

    response = delete_account(auth_client, django_capture_on_commit_callbacks)

    assert response.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert s3_storage.keys() == []


@pytest.mark.parametrize(
    ("password", "body"),
    [
        ("wrong-password", {"password": ["The password is incorrect."]}),
        ("", {"password": ["This field may not be blank."]}),
        (None, {"password": ["This field is required."]}),
    ],
)
def test_delete_needs_the_current_password(
    auth_client, user, upload, stored_files, django_capture_on_commit_callbacks, password, body
):
    upload()
    files = stored_files()

    response = delete_account(auth_client, django_capture_on_commit_callbacks, password)

    assert response.status_code == 400
    assert response.json() == body
    assert User.objects.filter(pk=user.pk).exists()
    assert Image.objects.filter(user=user).count() == 1
    assert stored_files() == files
    assert auth_client.get(ME_URL).status_code == 200


def test_delete_needs_a_token(api_client, user):
    response = api_client.delete(ME_URL, {"password": PASSWORD}, format="json")

    assert response.status_code == 401
    assert User.objects.filter(pk=user.pk).exists()


def test_delete_while_the_store_is_down_is_a_503_and_keeps_everything(
    s3_storage, auth_client, user, upload, settings, django_capture_on_commit_callbacks
):
    upload()
    keys = s3_storage.keys()
    use_storage(settings, **s3_storage.storage_options(endpoint_url="http://127.0.0.1:9"))  # the store is down

    response = delete_account(auth_client, django_capture_on_commit_callbacks)

    assert response.status_code == 503
    assert response.json() == {"detail": "The file storage is unavailable. Try again later."}
    assert User.objects.filter(pk=user.pk).exists()
    assert Image.objects.filter(user=user).count() == 1
    assert s3_storage.keys() == keys


def test_delete_is_throttled_like_login(auth_client, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"},
    }

    statuses = [auth_client.delete(ME_URL, {"password": "guess"}, format="json").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    assert auth_client.delete(ME_URL, {"password": PASSWORD}, format="json").status_code == 429
    assert User.objects.filter(pk=user.pk).exists()
