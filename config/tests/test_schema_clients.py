"""The OpenAPI description makes working generated clients: the schema makes working SDKs.

It says what a client should send, one content type per operation, while the service keeps accepting the
others. The generated clients themselves run in CI against a served instance: .ci/sdk-python/run.
"""

from urllib.parse import urlencode

import pytest

from testutils import PASSWORD

pytestmark = pytest.mark.django_db

# What anyone may call, without a token.
PUBLIC_OPERATIONS = {
    ("post", "/api/auth/signup/"),
    ("post", "/api/auth/login/"),
    ("post", "/api/auth/token/refresh/"),
    ("post", "/api/auth/token/verify/"),
    ("post", "/api/auth/logout/"),
    ("post", "/api/auth/password/reset/"),
    ("post", "/api/auth/password/reset/confirm/"),
    ("post", "/api/auth/email/verify/"),
    ("get", "/api/health/"),
}
MULTIPART_OPERATIONS = {("post", "/api/images/upload/")}
HTTP_METHODS = {"get", "put", "patch", "post", "delete", "head", "options", "trace"}


def operations(schema: dict) -> dict[tuple[str, str], dict]:
    return {
        (method, path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_each_request_body_has_one_content_type_json_or_multipart_for_the_upload(schema):
    bodies = {key: op["requestBody"] for key, op in operations(schema).items() if "requestBody" in op}

    assert set(bodies) >= MULTIPART_OPERATIONS | {("post", "/api/auth/login/"), ("patch", "/api/images/{id}/")}
    for key, body in bodies.items():
        expected = "multipart/form-data" if key in MULTIPART_OPERATIONS else "application/json"
        assert list(body["content"]) == [expected], key


def test_every_request_body_is_required(schema):
    # PATCH included: a client sends a body, `{}` at the least (generators mistype an optional one).
    bodies = {key: op["requestBody"] for key, op in operations(schema).items() if "requestBody" in op}

    assert {key: body.get("required") for key, body in bodies.items()} == dict.fromkeys(bodies, True)


def test_public_operations_declare_no_security_and_the_others_the_bearer_token(schema):
    assert "security" not in schema  # nothing inherited from the top level
    declared = {key: op.get("security", []) for key, op in operations(schema).items()}

    assert {key for key, security in declared.items() if not security} == PUBLIC_OPERATIONS
    for key, security in declared.items():
        if key not in PUBLIC_OPERATIONS:
            assert security == [{"jwtAuth": []}], key  # never the optional `{}` beside it


def test_answers_declare_every_field_they_send_as_required(schema):
    components = schema["components"]["schemas"]

    for name in ("Image", "ImageUpload", "Account", "TokenPair", "TokenRefresh", "Variant"):
        assert sorted(components[name]["required"]) == sorted(components[name]["properties"]), name
    # Nullable stays nullable: a variant's size may be unknown, a variant itself not made yet.
    assert components["Variant"]["properties"]["width"]["nullable"] is True


def test_login_declares_its_token_pair(schema):
    ok = schema["paths"]["/api/auth/login/"]["post"]["responses"]["200"]

    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TokenPair"}


@pytest.mark.parametrize("path", ["/api/auth/logout/", "/api/auth/token/verify/"])
def test_the_empty_answers_of_logout_and_verify_are_declared_as_objects(schema, path):
    ok = schema["paths"][path]["post"]["responses"]["200"]

    assert ok["content"]["application/json"]["schema"]["type"] == "object"


@pytest.mark.parametrize("format_", ["multipart", "form"])
def test_json_endpoints_still_accept_form_and_multipart_bodies(api_client, user, format_):
    data = {"email": user.email, "password": PASSWORD}
    if format_ == "form":  # curl -d
        form = urlencode(data)
        response = api_client.post("/api/auth/login/", form, content_type="application/x-www-form-urlencoded")
    else:
        response = api_client.post("/api/auth/login/", data, format="multipart")

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh"}
