"""Drive the whole API with the client openapi-python-client generated from the served schema.

Every call goes through the generated package `image_service_client` (on PYTHONPATH, with the project's root for
testutils), and every answer must parse into the model its status declares: a 2xx into the resource's model, a 4xx
into `FieldErrors` or `Error`. Usage: PYTHONPATH=CLIENT_FOLDER:. python .ci/sdk-python/flow.py http://127.0.0.1:PORT
"""

import io
import sys
import time
import uuid
from collections import Counter
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
from image_service_client import AuthenticatedClient, Client
from image_service_client.api.auth import (
    auth_login_create,
    auth_logout_create,
    auth_me_partial_update,
    auth_me_retrieve,
    auth_signup_create,
    auth_token_refresh_create,
    auth_token_verify_create,
)
from image_service_client.api.health import health_retrieve
from image_service_client.api.images import (
    images_delete_destroy,
    images_destroy,
    images_list,
    images_partial_update,
    images_retrieve,
    images_update,
    images_upload_create,
    images_uploads_complete_create,
    images_uploads_create,
)
from image_service_client.api.webhooks import (
    webhooks_create,
    webhooks_deliveries_list,
    webhooks_deliveries_redeliver_create,
    webhooks_destroy,
    webhooks_list,
    webhooks_partial_update,
    webhooks_retrieve,
    webhooks_rotate_secret_create,
    webhooks_test_create,
)
from image_service_client.models import (
    Account,
    DirectUploadComplete,
    DirectUploadMethodEnum,
    DirectUploadPost,
    DirectUploadPut,
    DirectUploadRequest,
    Error,
    FieldErrors,
    Health,
    HealthStatusEnum,
    Image,
    ImageRequest,
    ImageUpload,
    ImageUploadRequest,
    LoginRequest,
    PatchedAccountRequest,
    PatchedImageRequest,
    PatchedWebhookEndpointRequest,
    SignupRequest,
    SignupResponse,
    TokenBlacklistRequest,
    TokenPair,
    TokenRefresh,
    TokenRefreshRequest,
    TokenVerifyRequest,
    Variant,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreateRequest,
    WebhookEventTypeEnum,
)
from image_service_client.types import File, Response

from testutils import Receiver, image_bytes

calls: Counter = Counter()
# Models that are maps by design; every other model must hold exactly what the server sent, nothing undeclared.
OPEN_MODELS = {
    "FieldErrors",
    "Error",
    "ImageVariants",
    "ImageUploadVariants",
    "DirectUploadPostFields",
    "DirectUploadPutHeaders",
    "DirectUploadCompleteVariants",
}


def undeclared(value: Any, path: str = "") -> list[str]:
    """Paths of properties the server sent that the schema does not declare (the model kept them aside)."""
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in undeclared(item, f"{path}[{index}]")]
    if not hasattr(value, "additional_properties"):
        return []
    found = []
    if type(value).__name__ not in OPEN_MODELS:
        found += [f"{path}.{name}" for name in value.additional_properties]
    declared = [(field.name, getattr(value, field.name)) for field in attrs.fields(type(value))]
    for name, item in [*declared, *value.additional_properties.items()]:
        found += undeclared(item, f"{path}.{name}")
    return found


def expect(name: str, response: Response, status: int, model: Any) -> Any:
    """Check the status and that the answer parsed into `model` (a class, or `list` of `Image`); return it."""
    calls[name] += 1
    parsed = response.parsed
    if response.status_code != status:
        raise AssertionError(f"{name}: expected {status}, got {response.status_code}: {response.content[:500]!r}")
    if model is None:
        assert parsed is None, f"{name}: expected no body, got {parsed!r}"
    elif isinstance(model, list):
        assert isinstance(parsed, list) and all(isinstance(item, model[0]) for item in parsed), (
            f"{name}: expected a list of {model[0].__name__}, got {parsed!r}"
        )
    else:
        assert isinstance(parsed, model), f"{name}: expected {model.__name__}, got {type(parsed).__name__}: {parsed!r}"
    assert not undeclared(parsed), f"{name}: undeclared properties {undeclared(parsed)} in {parsed!r}"
    print(f"  {name}: {int(response.status_code)} {type(parsed).__name__ if parsed is not None else '(no body)'}")
    return parsed


def next_cursor(link: str | None) -> str | None:
    """The cursor of the Link header's rel="next" URL, if any."""
    if not link:
        return None
    assert link.endswith('; rel="next"'), link
    url = link.split(";", 1)[0].strip().strip("<>")
    return parse_qs(urlsplit(url).query)["cursor"][0]


def webhooks(api: AuthenticatedClient, image_id: int) -> None:
    """Manage a webhook endpoint through the API; its test event reaches a receiver here, verified by standardwebhooks.

    The served instance runs tasks inline (no broker), so a delivery is made before the test's answer.
    """
    receiver = Receiver(status=204)
    body = WebhookEndpointCreateRequest(url=receiver.url("/hooks/images"), events=[WebhookEventTypeEnum.IMAGE_DELETED])
    created = expect(
        "webhook, register",
        webhooks_create.sync_detailed(client=api, body=body),
        HTTPStatus.CREATED,
        WebhookEndpointCreate,
    )
    assert created.secret.startswith("whsec_") and created.events == [WebhookEventTypeEnum.IMAGE_DELETED], created
    refused = expect(
        "webhook, a metadata address (400)",
        webhooks_create.sync_detailed(client=api, body=WebhookEndpointCreateRequest(url="http://169.254.169.254/")),
        HTTPStatus.BAD_REQUEST,
        FieldErrors,
    )
    assert "metadata" in str(refused.additional_properties["url"]), refused
    listed = expect("webhooks, list", webhooks_list.sync_detailed(client=api), HTTPStatus.OK, [WebhookEndpoint])
    assert [item.id for item in listed] == [created.id]
    patched = expect(
        "webhook, PATCH events",
        webhooks_partial_update.sync_detailed(
            client=api, id=created.id, body=PatchedWebhookEndpointRequest(events=list(WebhookEventTypeEnum))
        ),
        HTTPStatus.OK,
        WebhookEndpoint,
    )
    assert len(patched.events) == 4, patched

    delivery = expect(
        "webhook, test event",
        webhooks_test_create.sync_detailed(client=api, id=created.id),
        HTTPStatus.ACCEPTED,
        WebhookDelivery,
    )
    [test_event] = receiver.wait_for(1)[:1]
    event = test_event.verified(created.secret)
    assert event["type"] == "webhook.test" and test_event.headers["webhook-id"] == delivery.event.id, test_event

    rotated = expect(
        "webhook, rotate the secret",
        webhooks_rotate_secret_create.sync_detailed(client=api, id=created.id),
        HTTPStatus.OK,
        WebhookEndpointCreate,
    )
    expect(
        "webhook, redeliver",
        webhooks_deliveries_redeliver_create.sync_detailed(client=api, id=created.id, delivery_id=delivery.id),
        HTTPStatus.ACCEPTED,
        WebhookDelivery,
    )
    [_, redelivered] = receiver.wait_for(2)[:2]
    assert redelivered.headers["webhook-id"] == delivery.event.id  # the same event, sent again
    for secret in (created.secret, rotated.secret):  # both sign during the rotation's overlap
        redelivered.verified(secret)

    images_destroy.sync_detailed(client=api, id=image_id)
    deleted = receiver.wait_for(3)[2].verified(rotated.secret)
    assert (deleted["type"], deleted["data"]) == ("image.deleted", {"id": image_id}), deleted
    deliveries = webhooks_deliveries_list.sync_detailed(client=api, id=created.id, limit=2)
    page = expect("webhook, deliveries (?limit=2)", deliveries, HTTPStatus.OK, [WebhookDelivery])
    assert [item.event.type_ for item in page] == ["image.deleted", "webhook.test"], page
    assert all(item.state == "delivered" and item.status_code == 204 for item in page), page
    assert 'rel="next"' not in deliveries.headers.get("Link", "")  # two deliveries, one page

    expect("webhook, delete", webhooks_destroy.sync_detailed(client=api, id=created.id), HTTPStatus.NO_CONTENT, None)
    expect(
        "webhook, deleted (404)",
        webhooks_retrieve.sync_detailed(client=api, id=created.id),
        HTTPStatus.NOT_FOUND,
        Error,
    )
    receiver.stop()


def main(base_url: str) -> None:
    started = time.monotonic()
    public = Client(base_url=base_url, raise_on_unexpected_status=True)

    health = expect("health", health_retrieve.sync_detailed(client=public), HTTPStatus.OK, Health)
    assert health.status == HealthStatusEnum.OK

    # Account: signup, a duplicate (400 FieldErrors), a wrong password (401 Error), login.
    suffix = uuid.uuid4().hex[:8]
    email, password = f"sdk-{suffix}@example.com", "Sdk-Password-42"
    signup = SignupRequest(email=email, username=f"sdk{suffix}", password=password, password2=password)
    created = expect(
        "signup", auth_signup_create.sync_detailed(client=public, body=signup), HTTPStatus.CREATED, SignupResponse
    )
    assert created.user.email == email and created.tokens.access
    taken = expect(
        "signup again (400)",
        auth_signup_create.sync_detailed(client=public, body=signup),
        HTTPStatus.BAD_REQUEST,
        FieldErrors,
    )
    assert "email" in taken.additional_properties, taken
    wrong = expect(
        "login, wrong password (401)",
        auth_login_create.sync_detailed(client=public, body=LoginRequest(email=email, password="not-it")),
        HTTPStatus.UNAUTHORIZED,
        Error,
    )
    assert wrong.detail
    tokens = expect(
        "login",
        auth_login_create.sync_detailed(client=public, body=LoginRequest(email=email.upper(), password=password)),
        HTTPStatus.OK,
        TokenPair,
    )
    api = AuthenticatedClient(base_url=base_url, token=tokens.access, raise_on_unexpected_status=True)

    me = expect("me", auth_me_retrieve.sync_detailed(client=api), HTTPStatus.OK, Account)
    assert me.email == email
    me = expect(
        "me, PATCH username",
        auth_me_partial_update.sync_detailed(client=api, body=PatchedAccountRequest(username=f"sdk{suffix}x")),
        HTTPStatus.OK,
        Account,
    )
    assert me.username == f"sdk{suffix}x"

    # Upload (multipart): three images, and a file that is not one (400 FieldErrors under "image").
    ids = []
    for number, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)], start=1):
        body = ImageUploadRequest(
            image=File(
                payload=io.BytesIO(image_bytes("JPEG", (400, 300), color=colour)),
                file_name=f"photo {number}.jpg",
                mime_type="image/jpeg",
            ),
            title=f"Photo {number}",
            description=f"Uploaded by the generated client ({number})",
        )
        uploaded = expect(
            f"upload {number}",
            images_upload_create.sync_detailed(client=api, body=body),
            HTTPStatus.CREATED,
            ImageUpload,
        )
        assert (uploaded.width, uploaded.height, uploaded.format_) == (400, 300, "JPEG"), uploaded
        assert uploaded.title == f"Photo {number}" and uploaded.original_filename.endswith(".jpg")
        ids.append(uploaded.id)
    not_an_image = ImageUploadRequest(
        image=File(payload=io.BytesIO(b"plain text"), file_name="notes.jpg", mime_type="image/jpeg")
    )
    refused = expect(
        "upload, not an image (400)",
        images_upload_create.sync_detailed(client=api, body=not_an_image),
        HTTPStatus.BAD_REQUEST,
        FieldErrors,
    )
    assert "image" in refused.additional_properties, refused

    # List: pages of two by the Link header, newest first; the count in X-Total-Count.
    seen, cursor, pages = [], None, 0
    while True:
        page = images_list.sync_detailed(client=api, limit=2, count=True, **({"cursor": cursor} if cursor else {}))
        items = expect(f"list page {pages + 1} (?limit=2)", page, HTTPStatus.OK, [Image])
        assert page.headers["X-Total-Count"] == "3", page.headers
        seen += [item.id for item in items]
        pages += 1
        cursor = next_cursor(page.headers.get("Link"))
        if cursor is None:
            break
    assert pages == 2 and seen == ids[::-1], (pages, seen, ids)
    everything = expect("list, whole", images_list.sync_detailed(client=api), HTTPStatus.OK, [Image])
    assert [item.id for item in everything] == ids[::-1]
    bad_limit = expect(
        "list, ?limit=0 (400)", images_list.sync_detailed(client=api, limit=0), HTTPStatus.BAD_REQUEST, FieldErrors
    )
    assert "limit" in bad_limit.additional_properties

    # Detail: variants are {url, width, height} objects (made inline here: no broker) or null.
    image = expect("detail", images_retrieve.sync_detailed(client=api, id=ids[0]), HTTPStatus.OK, Image)
    assert image.user.email == email and image.image_url and image.image_url.startswith(base_url)
    assert image.variants.additional_properties, image.variants
    for name, variant in image.variants.additional_properties.items():
        assert variant is None or isinstance(variant, Variant), (name, variant)
        if variant is not None:
            assert variant.url.startswith("http") and variant.width and variant.height, variant

    # Edit: PATCH the title, PUT both.
    patched = expect(
        "PATCH title",
        images_partial_update.sync_detailed(client=api, id=ids[0], body=PatchedImageRequest(title="Renamed")),
        HTTPStatus.OK,
        Image,
    )
    assert patched.title == "Renamed" and patched.description == image.description
    put = expect(
        "PUT title and description",
        images_update.sync_detailed(client=api, id=ids[0], body=ImageRequest(title="Replaced", description="Both set")),
        HTTPStatus.OK,
        Image,
    )
    assert (put.title, put.description) == ("Replaced", "Both set")

    # Delete by both paths; then the image is a 404 Error.
    expect(
        "delete (the spec's /delete/ path)",
        images_delete_destroy.sync_detailed(client=api, id=ids[0]),
        HTTPStatus.NO_CONTENT,
        None,
    )
    expect(
        "delete (DELETE /api/images/<id>/)",
        images_destroy.sync_detailed(client=api, id=ids[1]),
        HTTPStatus.NO_CONTENT,
        None,
    )
    gone = expect(
        "detail of a deleted image (404)",
        images_retrieve.sync_detailed(client=api, id=ids[0]),
        HTTPStatus.NOT_FOUND,
        Error,
    )
    assert gone.detail
    remaining = expect("list after deleting", images_list.sync_detailed(client=api), HTTPStatus.OK, [Image])
    assert [item.id for item in remaining] == [ids[2]]

    # Direct upload: sign, POST the file to the store's URL with the signed fields (not an API
    # operation: S3's, or the service's own on local storage), complete; completing again, the same image.
    data = image_bytes("JPEG", (320, 240), color=(200, 200, 30))
    signed = expect(
        "direct upload, sign",
        images_uploads_create.sync_detailed(
            client=api, body=DirectUploadRequest(filename="direct.jpg", size=len(data), title="Direct")
        ),
        HTTPStatus.CREATED,
        DirectUploadPost,
    )
    sent = httpx.post(signed.url, data=signed.fields.additional_properties, files={"file": ("direct.jpg", data)})
    assert sent.status_code in (201, 204), sent.text
    direct = expect(
        "direct upload, complete",
        images_uploads_complete_create.sync_detailed(client=api, id=signed.id),
        HTTPStatus.CREATED,
        DirectUploadComplete,
    )
    assert (direct.width, direct.height, direct.title) == (320, 240, "Direct"), direct
    again = expect(
        "direct upload, complete again",
        images_uploads_complete_create.sync_detailed(client=api, id=signed.id),
        HTTPStatus.CREATED,
        DirectUploadComplete,
    )
    assert again.id == direct.id
    expect(
        "direct upload, complete another's or none (404)",
        images_uploads_complete_create.sync_detailed(client=api, id=uuid.uuid4()),
        HTTPStatus.NOT_FOUND,
        Error,
    )
    # The same by PUT: the bare bytes to the signed URL with the signed headers, exactly the declared size.
    data = image_bytes("JPEG", (200, 150), color=(30, 120, 200))
    signed_put = expect(
        "direct upload by PUT, sign",
        images_uploads_create.sync_detailed(
            client=api,
            body=DirectUploadRequest(
                filename="put.jpg", size=len(data), method=DirectUploadMethodEnum.PUT, content_type="image/jpeg"
            ),
        ),
        HTTPStatus.CREATED,
        DirectUploadPut,
    )
    sent = httpx.put(signed_put.url, content=data, headers=signed_put.headers.additional_properties)
    assert sent.status_code == 200 and sent.headers["ETag"], sent.text
    by_put = expect(
        "direct upload by PUT, complete",
        images_uploads_complete_create.sync_detailed(client=api, id=signed_put.id),
        HTTPStatus.CREATED,
        DirectUploadComplete,
    )
    assert (by_put.width, by_put.height) == (200, 150), by_put
    listed = expect("list after a direct upload", images_list.sync_detailed(client=api), HTTPStatus.OK, [Image])
    assert [item.id for item in listed] == [by_put.id, direct.id, ids[2]]

    # Webhooks: an endpoint managed through the API, its events received and verified here.
    webhooks(api, direct.id)

    # Tokens: verify, refresh (a new pair), the new access token works; logout; the old refresh tokens are refused.
    verified = auth_token_verify_create.sync_detailed(client=public, body=TokenVerifyRequest(token=tokens.access))
    expect("token verify", verified, HTTPStatus.OK, type(verified.parsed))  # the generated inline model
    assert verified.parsed.to_dict() == {}, verified.parsed
    refreshed = expect(
        "token refresh",
        auth_token_refresh_create.sync_detailed(client=public, body=TokenRefreshRequest(refresh=tokens.refresh)),
        HTTPStatus.OK,
        TokenRefresh,
    )
    api = AuthenticatedClient(base_url=base_url, token=refreshed.access, raise_on_unexpected_status=True)
    expect("me, refreshed token", auth_me_retrieve.sync_detailed(client=api), HTTPStatus.OK, Account)
    logout = auth_logout_create.sync_detailed(client=public, body=TokenBlacklistRequest(refresh=refreshed.refresh))
    expect("logout", logout, HTTPStatus.OK, type(logout.parsed))
    assert logout.parsed.to_dict() == {}, logout.parsed
    expect(
        "refresh after logout (401)",
        auth_token_refresh_create.sync_detailed(client=public, body=TokenRefreshRequest(refresh=refreshed.refresh)),
        HTTPStatus.UNAUTHORIZED,
        Error,
    )
    # Last: replaying a rotated-out refresh token ends its session (refresh-token reuse detection).
    reused = expect(
        "refresh with the rotated-out token (401)",
        auth_token_refresh_create.sync_detailed(client=public, body=TokenRefreshRequest(refresh=tokens.refresh)),
        HTTPStatus.UNAUTHORIZED,
        Error,
    )
    assert reused.detail
    bogus = AuthenticatedClient(base_url=base_url, token="not-a-token", raise_on_unexpected_status=True)
    expect("me, invalid token (401)", auth_me_retrieve.sync_detailed(client=bogus), HTTPStatus.UNAUTHORIZED, Error)

    operations = [
        name
        for name, value in globals().items()
        if getattr(value, "__name__", "").startswith("image_service_client.api.")
    ]
    print(
        f"OK: {sum(calls.values())} calls of {len(operations)} operations, every answer its declared model, "
        f"in {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    main(sys.argv[1])
