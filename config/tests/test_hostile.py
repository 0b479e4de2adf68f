"""Hostile input, one rule at a time: every way in, assuming each request may be malicious.

Each test checks the status, the body, and that no row and no file were left behind.
"""
import io
import struct
import subprocess
import sys
import zlib
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from conftest import PASSWORD, image_bytes, login, signup
from images.models import Image
from users.models import User

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/api/images/upload/"
LIST_URL = "/api/images/"
PROJECT = Path(__file__).resolve().parents[2]
TOO_MANY_PIXELS = "The image has too many pixels; the limit is 50,000,000 (width x height x frames)."
NOT_AN_IMAGE = "Upload a valid image: the file is not a JPEG, PNG, GIF or WebP image."
CORRUPT = "The image is corrupt or truncated."


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose header claims width x height pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(
        b"IEND", b""
    )


@pytest.fixture
def refused(auth_client, stored_files):
    """Post an upload that must fail: check 400, nothing kept; return the body."""

    def post(file, expected_status: int = 400, **fields) -> dict:
        response = auth_client.post(UPLOAD_URL, {"image": file, **fields}, format="multipart")
        assert response.status_code == expected_status, response.content
        assert response["Content-Type"] == "application/json"
        assert not Image.objects.exists()
        assert stored_files() == []
        return response.json()

    return post


# --- Uploads: decompression bombs -----------------------------------------------------------------


def test_a_30000_by_30000_bomb_is_refused_from_its_header_in_milliseconds(refused):
    bomb = png_claiming(30000, 30000)
    assert len(bomb) < 1000

    # Refused from the header: no decode (bench/hostile_uploads.py times it).
    assert refused(SimpleUploadedFile("bomb.png", bomb, content_type="image/png")) == {"image": [TOO_MANY_PIXELS]}


def test_a_bomb_over_our_cap_but_under_pillows_thresholds_is_refused(refused):
    # 8000 x 8000 = 64 MP: over IMAGE_MAX_PIXELS (50 MP), under Pillow's own warning (89 MP).
    assert refused(SimpleUploadedFile("b.png", png_claiming(8000, 8000))) == {"image": [TOO_MANY_PIXELS]}


def test_pillows_decompression_bomb_warning_is_an_error(refused, settings):
    # 10000 x 10000 = 100 MP lies between Pillow's warning (89 MP) and error (179 MP) thresholds.
    # With our own cap raised out of the way, only the warning-as-error can refuse it before a decode.
    settings.IMAGE_MAX_PIXELS = 10**9

    body = refused(SimpleUploadedFile("b.png", png_claiming(10000, 10000)))

    assert body == {"image": ["The image has too many pixels; the limit is 1,000,000,000 (width x height x frames)."]}


def test_every_frame_of_an_animation_counts_toward_the_pixel_cap(refused, upload, settings):
    settings.IMAGE_MAX_PIXELS = 64 * 64 * 5
    anim = image_bytes("GIF", (64, 64), frames=6)

    assert refused(SimpleUploadedFile("a.gif", anim))["image"][0].startswith("The image has too many pixels")


def test_an_animated_gif_within_the_cap_is_accepted_and_kept_byte_for_byte(upload, media_root):
    anim = image_bytes("GIF", (64, 64), frames=6)

    body = upload(SimpleUploadedFile("a.gif", anim, content_type="image/gif"))

    assert (media_root / Image.objects.get(pk=body["id"]).image.name).read_bytes() == anim


# --- Uploads: disguised, empty, truncated, corrupt ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("cat.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
        ("cat.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/png"),
        ("cat.jpg", b"<html><script>alert(document.cookie)</script></html>", "image/jpeg"),
        ("cat.gif", b"\x7fELF\x02\x01\x01" + b"\0" * 100, "image/gif"),  # a Linux executable
        ("cat.webp", b"MZ\x90\x00\x03" + b"\0" * 100, "image/webp"),  # a Windows executable
        ("cat.png", b"PK\x03\x04" + b"\0" * 100, "image/png"),  # a zip archive
        ("cat.jpg", b"%PDF-1.7\n" + b"\0" * 100, "image/jpeg"),
        ("cat.png", b"GIF89a<script>alert(1)</script>", "image/png"),  # a polyglot's magic bytes only
    ],
)
def test_anything_disguised_as_an_image_is_refused(refused, name, data, content_type):
    assert refused(SimpleUploadedFile(name, data, content_type=content_type)) == {"image": [NOT_AN_IMAGE]}


def test_a_zero_byte_file_is_refused(refused):
    assert refused(SimpleUploadedFile("empty.png", b"", content_type="image/png")) == {
        "image": ["The submitted file is empty."]
    }


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_a_truncated_image_is_refused(refused, fmt):
    buffer = io.BytesIO()
    PILImage.effect_noise((200, 200), 80).convert("RGB").save(buffer, fmt)
    cut = buffer.getvalue()[: len(buffer.getvalue()) * 2 // 3]

    assert refused(SimpleUploadedFile(f"cut.{fmt.lower()}", cut))["image"][0] in (CORRUPT, NOT_AN_IMAGE)


def test_an_image_with_corrupt_data_is_refused(refused):
    data = bytearray(image_bytes("PNG", size=(64, 64)))
    data[60:80] = b"\xff" * 20  # inside the compressed pixel data

    assert refused(SimpleUploadedFile("bad.png", bytes(data))) == {"image": [CORRUPT]}


# --- Uploads: names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../../etc/passwd", "passwd.png"),
        ("..\\..\\boot.ini", "boot.png"),
        ("a\x00b.png", "ab.png"),  # the multipart parser drops the NUL first
        ("x\r\nSet-Cookie: a=b.png", "x.png"),  # the header ends at the CRLF
        ("<img src=x onerror=alert(1)>.png", "img_src_x_onerror_alert_1.png"),
        ("photo.php.png", "photo_php.png"),
        ("CON.png", "CON.png"),
        ("résumé 写真.png", "résumé_写真.png"),
        ("no-extension", "no-extension.png"),
        ("lying.gif", "lying.png"),
    ],
)
def test_hostile_names_never_reach_the_stored_key(auth_client, user, name, stored):
    file = SimpleUploadedFile(name, image_bytes("PNG"), content_type="image/png")

    response = auth_client.post(UPLOAD_URL, {"image": file}, format="multipart")

    assert response.status_code == 201
    key = Image.objects.get().image.name
    prefix, _, filename = key.rpartition("/")
    assert prefix == f"images/{user.pk}"
    assert filename.split("_", 1)[1] == stored
    assert not any(c in key for c in "\x00\r\n<>\\")


def test_a_name_of_any_length_fits_the_column(auth_client):
    file = SimpleUploadedFile("長" * 5000 + ".png", image_bytes("PNG"), content_type="image/png")

    response = auth_client.post(UPLOAD_URL, {"image": file}, format="multipart")

    assert response.status_code == 201
    assert len(Image.objects.get().image.name) <= 255


# --- Uploads: content type and headers -------------------------------------------------------------------


def test_the_stored_content_type_comes_from_the_bytes_and_responses_forbid_sniffing(auth_client, settings, client):
    file = SimpleUploadedFile("x.png", image_bytes("GIF"), content_type="text/html")
    response = auth_client.post(UPLOAD_URL, {"image": file}, format="multipart")
    assert response["X-Content-Type-Options"] == "nosniff"

    settings.DEBUG = True
    served = client.get(response.json()["image"])

    assert served["Content-Type"] == "image/gif"
    assert served["X-Content-Type-Options"] == "nosniff"
    served.close()


# --- Text fields and bodies ---------------------------------------------------------------------


def test_an_oversized_title_is_refused_under_title(refused, make_image):
    assert refused(make_image(), title="x" * 256) == {"title": ["Ensure this field has no more than 255 characters."]}


def test_an_oversized_description_is_refused_under_description(refused, make_image):
    body = refused(make_image(), description="x" * 5001)

    assert body == {"description": ["Ensure this field has no more than 5000 characters."]}


def test_a_body_claiming_to_be_huge_is_refused_before_it_is_read(auth_client, stored_files):
    response = auth_client.post(
        UPLOAD_URL, data=b"--x--", content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(10**12)
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "The request body is too large (1000000000000 bytes); the limit is 11534336 bytes."
    }
    assert stored_files() == []


def test_an_oversized_json_body_is_a_json_413(api_client):
    body = '{"email": "' + "a" * (2 * 1024 * 1024) + '", "password": "x"}'

    response = api_client.post(reverse("users:login"), data=body, content_type="application/json")

    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_a_second_file_in_one_request_is_refused(auth_client, make_image, stored_files):
    response = auth_client.post(UPLOAD_URL, {"image": make_image(), "extra": make_image()}, format="multipart")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert not Image.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize("body", ['{"email": "a@b.c", "password": ', "[1, 2", "\xff\xfe", "null"])
def test_malformed_json_is_a_json_400(api_client, body):
    response = api_client.post(reverse("users:login"), data=body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()


def test_a_malformed_multipart_body_is_a_json_400(auth_client):
    response = auth_client.post(UPLOAD_URL, data=b"garbage", content_type="multipart/form-data; boundary=")

    assert response.status_code == 400
    assert "Multipart form parse error" in response.json()["detail"]


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
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(LIST_URL)


def test_a_token_signed_with_another_key_is_refused(user):
    real = jwt.decode(str(AccessToken.for_user(user)), options={"verify_signature": False})
    forged = jwt.encode(real, "an-attacker-key-that-is-not-the-signing-key", algorithm="HS256")

    response = get_with(forged)

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_an_unsigned_alg_none_token_is_refused(user):
    real = jwt.decode(str(AccessToken.for_user(user)), options={"verify_signature": False})

    assert get_with(jwt.encode(real, None, algorithm="none")).status_code == 401


def test_an_expired_token_is_refused(user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=token.current_time - timedelta(days=2))

    response = get_with(str(token))

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_refresh_token_is_not_an_access_token(api_client, user):
    tokens = login(api_client, user.email)

    assert get_with(tokens["refresh"]).status_code == 401


def test_an_access_token_is_not_a_refresh_token(api_client, user):
    tokens = login(api_client, user.email)

    response = api_client.post(reverse("users:token_refresh"), {"refresh": tokens["access"]}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_refresh_rotates_and_the_used_refresh_token_is_blacklisted(api_client, user):
    tokens = login(api_client, user.email)
    url = reverse("users:token_refresh")

    first = api_client.post(url, {"refresh": tokens["refresh"]}, format="json")
    replay = api_client.post(url, {"refresh": tokens["refresh"]}, format="json")

    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    assert replay.status_code == 401
    assert api_client.post(url, {"refresh": first.json()["refresh"]}, format="json").status_code == 200


def test_logout_blacklists_the_refresh_token(api_client, user):
    tokens = login(api_client, user.email)

    response = api_client.post(reverse("users:logout"), {"refresh": tokens["refresh"]}, format="json")
    again = api_client.post(reverse("users:token_refresh"), {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200
    assert again.status_code == 401
    assert again.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}


def test_logout_refuses_an_invalid_token(api_client):
    response = api_client.post(reverse("users:logout"), {"refresh": "junk"}, format="json")

    assert response.status_code == 401


def test_a_deactivated_account_is_refused_everywhere(api_client, user):
    tokens = login(api_client, user.email)
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert get_with(tokens["access"]).json() == {"detail": "User is inactive", "code": "user_inactive"}
    assert api_client.post(reverse("users:token_refresh"), {"refresh": tokens["refresh"]},
                           format="json").status_code == 401
    assert api_client.post(reverse("users:login"), {"email": user.email, "password": PASSWORD},
                           format="json").status_code == 401


def test_a_refresh_token_of_a_deleted_account_is_a_401(api_client, user):
    refresh = str(RefreshToken.for_user(user))
    user.delete()

    response = api_client.post(reverse("users:token_refresh"), {"refresh": refresh}, format="json")

    assert response.status_code == 401


def test_jwt_signing_key_can_be_set_apart_from_secret_key():
    env = {"JWT_SIGNING_KEY": "a-separate-signing-key", "SECRET_KEY": "s" * 50}
    code = "from django.conf import settings; print(settings.SIMPLE_JWT['SIGNING_KEY'])"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True,
                            env={**_clean_env(), **env, "DJANGO_SETTINGS_MODULE": "config.settings"})

    assert result.stdout.strip() == "a-separate-signing-key"


# --- Throttling -------------------------------------------------------------------------------


@pytest.fixture
def low_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "2/min", "signup": "2/min", "token": "2/min", "upload": "2/min"},
    }


def bad_login(client: APIClient, **extra):
    return client.post(reverse("users:login"), {"email": "x@example.com", "password": "x"}, format="json", **extra)


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


def test_uploads_are_throttled_per_user(auth_client, other_client, make_image, low_rates):
    statuses = [auth_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart").status_code
                for _ in range(3)]

    assert statuses == [201, 201, 429]
    assert Image.objects.count() == 2
    assert other_client.post(UPLOAD_URL, {"image": make_image()}, format="multipart").status_code == 201


def test_throttle_counts_are_shared_through_redis(api_client, low_rates, settings):
    url = "redis://127.0.0.1:6379/15"
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


# --- Production settings --------------------------------------------------------------------------


def _clean_env() -> dict:
    import os

    keep = {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k in keep}


def production_env() -> dict:
    """The production block of .env.example, with a real secret in place of the placeholder."""
    lines = (PROJECT / ".env.example").read_text().split("# --- Production", 1)[1].splitlines()
    env = {}
    for line in lines:
        line = line.removeprefix("# ").strip()
        if "=" in line and line.split("=", 1)[0].isupper():
            key, value = line.split("=", 1)
            env[key] = value
    env["SECRET_KEY"] = "k" * 20 + "-production-secret-of-sufficient-length-and-variety-0123456789"
    return env


def test_check_deploy_passes_with_the_production_env_of_env_example(tmp_path):
    env = {**_clean_env(), **dict.fromkeys(["DB_NAME", "DATABASE_URL", "USE_S3"], ""), **production_env()}
    assert env["DEBUG"] == "False"

    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=PROJECT, capture_output=True, text=True, env=env)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_start_up_requires_secret_key_and_allowed_hosts():
    for missing in ("SECRET_KEY", "ALLOWED_HOSTS"):
        env = {**_clean_env(), **production_env(), missing: ""}
        result = subprocess.run([sys.executable, "manage.py", "check"], cwd=PROJECT, capture_output=True,
                                text=True, env=env)
        assert result.returncode != 0
        assert f"{missing} is not set" in result.stderr


def test_cors_allows_only_the_listed_origins(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    allowed = api_client.options(LIST_URL, HTTP_ORIGIN="https://app.example.com",
                                 HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    other = api_client.options(LIST_URL, HTTP_ORIGIN="https://evil.example.com",
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")

    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in other
