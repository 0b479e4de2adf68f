"""Shared fixtures: real accounts made through the real endpoints, real images made with Pillow."""
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from rest_framework.test import APIClient

PASSWORD = "Correct-Horse-42"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """A temporary MEDIA_ROOT for every test: nothing touches the project's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def stored_files(media_root: Path) -> Callable[[], list[str]]:
    """Return a function listing the files under MEDIA_ROOT, as storage names."""

    def files() -> list[str]:
        return sorted(p.relative_to(media_root).as_posix() for p in media_root.rglob("*") if p.is_file())

    return files


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def signup(client: APIClient, email: str, username: str, password: str = PASSWORD):
    """Sign up through POST /api/auth/signup/ and return the response."""
    body = {"email": email, "username": username, "password": password, "password2": password}
    return client.post(reverse("users:signup"), body, format="json")


def login(client: APIClient, email: str, password: str = PASSWORD) -> dict:
    """Log in through POST /api/auth/login/ and return the token pair."""
    response = client.post(reverse("users:login"), {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _account(email: str, username: str):
    from users.models import User

    response = signup(APIClient(), email, username)
    assert response.status_code == 201, response.content
    return User.objects.get(pk=response.json()["user"]["id"])


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(client, user.email)['access']}")
    return client


@pytest.fixture
def user(db):
    return _account("alice@example.com", "alice")


@pytest.fixture
def other_user(db):
    return _account("bob@example.com", "bob")


@pytest.fixture
def auth_client(user) -> APIClient:
    """A client carrying a real access token from the login endpoint for `user`."""
    return _client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return _client_for(other_user)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (32, 24), frames: int = 1, color: str = "red") -> bytes:
    """Encode a real image with Pillow."""
    buffer = io.BytesIO()
    first = PILImage.new("RGB", size, color)
    if frames > 1:
        rest = [PILImage.new("RGB", size, (i * 40 % 256, 0, 0)) for i in range(1, frames)]
        first.save(buffer, fmt, save_all=True, append_images=rest)
    else:
        first.save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def make_image() -> Callable[..., SimpleUploadedFile]:
    """Return a factory of uploadable images made with Pillow."""

    def factory(
        name: str = "photo.png",
        fmt: str = "PNG",
        size: tuple[int, int] = (32, 24),
        frames: int = 1,
        content_type: str | None = None,
    ) -> SimpleUploadedFile:
        mime = content_type or f"image/{fmt.lower()}"
        return SimpleUploadedFile(name, image_bytes(fmt, size, frames), content_type=mime)

    return factory


@pytest.fixture
def upload(auth_client, make_image) -> Callable[..., dict]:
    """Upload through the API as `user` and return the 201 body."""

    def do_upload(file: SimpleUploadedFile | None = None, **fields) -> dict:
        body = {"image": file or make_image(), **fields}
        response = auth_client.post(reverse("images:upload"), body, format="multipart")
        assert response.status_code == 201, response.content
        return response.json()

    return do_upload
