"""The API as a client meets it: its paths, and accounts made through the real endpoints.

In-process through DRF's test client (signup, login, bearer), or over HTTP to a server we started
(account_over_http, login_over_http). DRF's test client is imported where it is used: importing it reads Django's
settings, which the benches and the CI scripts that import this module have not configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from django.urls import reverse

if TYPE_CHECKING:
    from rest_framework.test import APIClient

PASSWORD = "Correct-Horse-42"
# A UUID4 as image_upload_to writes it into a stored name.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# --- The image endpoints, at the spec's paths ---------------------------------------------------------

UPLOAD_URL = "/api/images/upload/"
LIST_URL = "/api/images/"


def url_path(url: str) -> str:
    """The path of a file URL, without its query (the signature of a local URL, or S3's)."""
    return urlsplit(url).path


def detail_url(pk: int) -> str:
    return f"/api/images/{pk}/"


def delete_url(pk: int) -> str:
    return f"/api/images/{pk}/delete/"


def fetch(url: str) -> tuple[int, bytes]:
    """GET a URL as any HTTP client would, without credentials: (status, body)."""
    response = requests.get(url, timeout=10)
    return response.status_code, response.content


# --- Accounts through the real endpoints, in-process ------------------------------------------------------


def signup(client: APIClient, email: str, username: str, password: str = PASSWORD):
    """Sign up through POST /api/auth/signup/ and return the response."""
    body = {"email": email, "username": username, "password": password, "password2": password}
    return client.post(reverse("users:signup"), body, format="json")


def login(client: APIClient, email: str, password: str = PASSWORD) -> dict:
    """Log in through POST /api/auth/login/ and return the token pair."""
    response = client.post(reverse("users:login"), {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bad_login(client: APIClient, **extra):
    """A login with credentials no account has (throttled as any other); the response."""
    return client.post(reverse("users:login"), {"email": "x@example.com", "password": "x"}, format="json", **extra)


def bearer(access: str) -> APIClient:
    """Return a new client that sends `access` as its Bearer token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- Accounts over HTTP, on a server we started ------------------------------------------------------------


def login_over_http(base: str, email: str, password: str = PASSWORD) -> str:
    """Log in through POST {base}/api/auth/login/; return the access token."""
    response = requests.post(f"{base}/api/auth/login/", json={"email": email, "password": password}, timeout=30)
    assert response.status_code == 200, f"login as {email}: {response.status_code} {response.text[:500]}"
    return response.json()["access"]


def account_over_http(base: str, email: str, username: str, password: str = PASSWORD) -> str:
    """Sign up through POST {base}/api/auth/signup/; return the access token.

    This service's signup answers with the tokens; a server whose signup does not (the upstream a bench compares
    with, which takes the same body) is logged in to.
    """
    body = {"email": email, "username": username, "password": password, "password2": password}
    response = requests.post(f"{base}/api/auth/signup/", json=body, timeout=30)
    assert response.ok, f"signup of {email}: {response.status_code} {response.text[:500]}"
    tokens = response.json().get("tokens")
    return tokens["access"] if tokens else login_over_http(base, email, password)
