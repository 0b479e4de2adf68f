"""The API as a whole: its OpenAPI description (`schema`, conftest.py) and docs, health, JSON for unknown paths.

What the description says of one endpoint is tested with it (the list's parameters: images/tests).
"""

import subprocess

import pytest
from rest_framework.test import APIClient

from images.models import Image
from testutils import LIST_URL, PASSWORD, UPLOAD_URL, bearer, login, use_storage
from users.models import User

pytestmark = pytest.mark.django_db

# The spec's endpoints (seed-readme.md, "API Documentation"): they must stay exactly where they are.
SPEC_ENDPOINTS = {
    ("post", "/api/auth/signup/"),
    ("post", "/api/auth/login/"),
    ("post", "/api/auth/token/refresh/"),
    ("post", "/api/images/upload/"),
    ("get", "/api/images/"),
    ("get", "/api/images/{id}/"),
    ("delete", "/api/images/{id}/delete/"),
}
# What the service adds beside them.
ADDED_ENDPOINTS = {
    ("post", "/api/auth/logout/"),
    ("post", "/api/auth/token/verify/"),
    ("get", "/api/auth/me/"),
    ("put", "/api/auth/me/"),
    ("patch", "/api/auth/me/"),
    ("delete", "/api/auth/me/"),
    ("post", "/api/auth/logout/all/"),
    ("post", "/api/auth/password/change/"),
    ("post", "/api/auth/password/reset/"),
    ("post", "/api/auth/password/reset/confirm/"),
    ("post", "/api/auth/email/verify/"),
    ("post", "/api/auth/email/verify/resend/"),
    ("put", "/api/images/{id}/"),
    ("patch", "/api/images/{id}/"),
    ("delete", "/api/images/{id}/"),
    ("get", "/api/health/"),
    ("post", "/api/images/uploads/"),
    ("post", "/api/images/uploads/{id}/complete/"),
    ("get", "/api/webhooks/"),
    ("post", "/api/webhooks/"),
    ("get", "/api/webhooks/{id}/"),
    ("patch", "/api/webhooks/{id}/"),
    ("delete", "/api/webhooks/{id}/"),
    ("post", "/api/webhooks/{id}/rotate-secret/"),
    ("post", "/api/webhooks/{id}/test/"),
    ("get", "/api/webhooks/{id}/deliveries/"),
    ("post", "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver/"),
}


def test_the_schema_describes_exactly_the_spec_endpoints_and_the_additions(schema):
    described = {(method, path) for path, operations in schema["paths"].items() for method in operations}

    assert SPEC_ENDPOINTS <= described
    assert described == SPEC_ENDPOINTS | ADDED_ENDPOINTS


def test_the_schema_has_the_bearer_scheme_and_a_multipart_upload(schema):
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    upload = schema["paths"]["/api/images/upload/"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = schema["components"]["schemas"][form]["properties"]
    assert properties["image"] == {"type": "string", "format": "binary"}
    assert {"201", "400", "401", "413", "429", "503"} <= set(upload["responses"])


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_render_from_local_assets(client, url):
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    assert "cdn" not in html.lower()


DOCS = ["/api/schema/", "/api/docs/", "/api/redoc/"]


def test_the_schema_and_docs_are_public_by_default(client, settings):
    assert settings.API_DOCS_PUBLIC is True

    assert [client.get(url).status_code for url in DOCS] == [200, 200, 200]


def test_with_api_docs_public_off_only_staff_read_the_schema_and_docs(client, user, auth_client, settings):
    settings.API_DOCS_PUBLIC = False
    staff = User.objects.create_user(email="staff@example.com", username="staff", password=PASSWORD, is_staff=True)

    anonymous = [client.get(url) for url in DOCS]
    not_staff = [auth_client.get(url).status_code for url in DOCS]
    client.force_login(staff)  # the admin's session, as a browser of a staff member has
    staff_session = [client.get(url).status_code for url in DOCS]
    staff_token = bearer(login(APIClient(), staff.email)["access"]).get("/api/schema/")

    assert [response.status_code for response in anonymous] == [401, 401, 401]
    assert b"openapi" not in anonymous[0].content and b"/api/schema/" not in anonymous[1].content
    assert not_staff == [403, 403, 403]
    assert staff_session == [200, 200, 200]
    assert staff_token.status_code == 200 and b"openapi" in staff_token.content


def test_health_reports_each_dependency(api_client):
    response = api_client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok", "cache": "ok", "broker": "ok"}


@pytest.mark.parametrize(
    "broken",
    [{"endpoint_url": "http://127.0.0.1:9"}, {"bucket_name": "no-such-bucket"}, {"secret_key": "wrong"}],
    ids=["store-down", "missing-bucket", "wrong-secret"],
)
def test_health_answers_503_naming_the_storage_when_it_is_down(api_client, settings, s3_server, broken):
    use_storage(settings, **s3_server.storage_options(**broken))

    response = api_client.get("/api/health/")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "storage": "unavailable",
        "cache": "ok",
        "broker": "ok",
    }


def test_health_answers_503_when_media_root_cannot_hold_files(api_client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.MEDIA_ROOT = blocker / "media"

    response = api_client.get("/api/health/")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "storage": "unavailable",
        "cache": "ok",
        "broker": "ok",
    }


def test_health_is_ok_on_a_reachable_s3(api_client, s3_storage):
    assert api_client.get("/api/health/").json()["storage"] == "ok"


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/nothing/here/", "/api/images/a%0Ab/delete/"], ids=["unknown", "newline"])
def test_unknown_api_paths_are_a_json_404(auth_client, method, path):
    # A newline in the path too (found by the fuzzer): the catch-all's `.` would not match it.
    response = getattr(auth_client, method)(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_a_known_path_without_its_slash_is_a_json_404_naming_the_url_with_it(auth_client, method):
    response = getattr(auth_client, method)("/api/images/upload?x=1")

    assert response.status_code == 404  # not a 308 with an empty body, which curl --fail-with-body passes silently
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": f"Not found. The path ends with a slash: {method.upper()} /api/images/upload/",
        "code": "missing_trailing_slash",
        "url": "http://testserver/api/images/upload/?x=1",
    }
    assert not Image.objects.exists()


def test_curl_fail_with_body_fails_on_a_missing_slash_and_prints_the_url(live_server):
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-X", "POST", f"{live_server.url}/api/images/upload"],
        capture_output=True,
        text=True,
    )

    assert done.returncode == 22  # curl's exit status for an HTTP error
    assert f"{live_server.url}/api/images/upload/" in done.stdout


# --- Messages a newcomer meets -------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["{token}", "JWT {token}", "Token {token}", "bearer {token}", "Basic dXNlcjpwdw=="])
def test_an_authorization_header_that_is_not_bearer_says_what_it_must_be(user, header):
    token = login(APIClient(), user.email)["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(token=token))

    response = client.get(LIST_URL)

    assert response.status_code == 401
    assert response.json() == {
        "detail": 'The Authorization header must be "Bearer <access token>" (the "access" of /api/auth/login/).'
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_json_body_to_the_upload_says_to_send_multipart_with_an_image_field(auth_client):
    response = auth_client.post(UPLOAD_URL, {"image": "photo.jpg"}, format="json")

    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "application/json" in request. Send multipart/form-data with the file '
        'in an "image" field (curl -F "image=@photo.jpg").',
    }


def test_the_site_root_sends_a_browser_to_the_docs_and_answers_a_client_with_an_index(client):
    browser = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    script = client.get("/")

    assert (browser.status_code, browser["Location"]) == (302, "/api/docs/")
    assert script.status_code == 200
    index = script.json()
    assert index["docs"] == "http://testserver/api/docs/"
    assert index["upload"] == "http://testserver/api/images/upload/"
    assert index["login"] == "http://testserver/api/auth/login/"
