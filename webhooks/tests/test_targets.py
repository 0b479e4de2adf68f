"""SSRF: URLs that reach the service's own network are refused at registration and again at delivery; no redirect.

No test here sends anything beyond loopback: the refused addresses are only resolved and classified, never
connected to (the receiver on 127.0.0.1 is the only server any test reaches).
"""

import ipaddress

import pytest

from testutils import Receiver
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.targets import address_refusal

from .conftest import WEBHOOKS_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings) -> None:
    """The production defaults: https only, public addresses only, no network list."""
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_REQUIRE_HTTPS = True
    settings.WEBHOOK_ALLOWED_NETWORKS = []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://127.0.0.1/hook", "Webhooks cannot be sent to 127.0.0.1: it is a loopback address."),
        ("https://127.1.2.3:8443/hook", "Webhooks cannot be sent to 127.1.2.3: it is a loopback address."),
        ("https://10.0.0.1/hook", "Webhooks cannot be sent to 10.0.0.1: it is a private address."),
        ("https://192.168.1.20/hook", "Webhooks cannot be sent to 192.168.1.20: it is a private address."),
        ("https://169.254.169.254/latest/meta-data/", "cannot be sent to 169.254.169.254: it is a cloud metadata"),
        ("https://169.254.10.1/", "Webhooks cannot be sent to 169.254.10.1: it is a link-local address."),
        ("https://[::1]/hook", "Webhooks cannot be sent to ::1: it is a loopback address."),
        ("https://[::ffff:127.0.0.1]/hook", "Webhooks cannot be sent to ::ffff:127.0.0.1: it is a loopback address."),
        ("https://[fd00:ec2::254]/", "Webhooks cannot be sent to fd00:ec2::254: it is a cloud metadata address."),
        ("https://0.0.0.0/hook", "Webhooks cannot be sent to 0.0.0.0: it is an unspecified address."),
        ("https://224.0.0.1/hook", "Webhooks cannot be sent to 224.0.0.1: it is a multicast address."),
        ("https://100.64.0.1/hook", "Webhooks cannot be sent to 100.64.0.1: it is not a public address."),
        ("https://localhost/hook", "Webhooks cannot be sent to localhost ("),  # 127.0.0.1 or ::1
        ("http://example.com/hook", "The URL must start with https://."),
        ("ftp://example.com/hook", "The URL must start with https://."),
        ("https://user:secret@example.com/hook", "The URL must not carry a user name or password"),
    ],
)
def test_registration_refuses_urls_that_reach_inside(auth_client, production, url, message):
    response = auth_client.post(WEBHOOKS_URL, {"url": url}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["url"]
    assert message in response.json()["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_a_hostname_resolving_to_loopback_names_the_address(auth_client, production):
    response = auth_client.post(WEBHOOKS_URL, {"url": "https://localhost:8443/hook"}, format="json")

    message = response.json()["url"][0]
    assert message.endswith("): it is a loopback address.")
    assert message.split("(")[1].split(")")[0] in {"127.0.0.1", "::1"}


def test_a_change_of_url_is_checked_too(auth_client, endpoint, receiver, production, settings):
    settings.WEBHOOK_ALLOW_PRIVATE, settings.WEBHOOK_REQUIRE_HTTPS = True, False
    created = endpoint(receiver.url())
    settings.WEBHOOK_ALLOW_PRIVATE, settings.WEBHOOK_REQUIRE_HTTPS = False, True

    response = auth_client.patch(f"{WEBHOOKS_URL}{created['id']}/", {"url": "https://10.0.0.1/"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"url": ["Webhooks cannot be sent to 10.0.0.1: it is a private address."]}
    assert WebhookEndpoint.objects.get().url == receiver.url()


def test_metadata_addresses_are_refused_even_where_private_ones_are_allowed(auth_client, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []  # private allowed (the tests' setting), no network list

    for url in ("http://169.254.169.254/latest/", "http://[fd00:ec2::254]/"):
        response = auth_client.post(WEBHOOKS_URL, {"url": url}, format="json")
        assert response.status_code == 400
        assert "it is a cloud metadata address" in response.json()["url"][0]


def test_allowed_networks_confine_the_targets(auth_client, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]

    response = auth_client.post(WEBHOOKS_URL, {"url": "http://10.0.0.1/hook"}, format="json")

    assert response.json() == {
        "url": ["Webhooks cannot be sent to 10.0.0.1: it is outside the networks this service sends webhooks to."]
    }


@pytest.mark.parametrize(
    ("address", "refusal"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("172.16.0.1", "a private address"),
        ("fc00::1", "a private address"),
        ("fe80::1", "a link-local address"),
        ("::", "an unspecified address"),
        ("ff02::1", "a multicast address"),
        ("198.51.100.7", "a private address"),  # documentation (TEST-NET-2)
        ("240.0.0.1", "a private address"),  # reserved, which Python counts as private too
        ("::ffff:10.0.0.1", "a private address"),
    ],
)
def test_addresses_are_classified_without_being_contacted(production, address, refusal):
    assert address_refusal(ipaddress.ip_address(address)) == refusal


def test_delivery_checks_again_and_refuses_what_the_address_became(
    auth_client, endpoint, receiver, committed, settings
):
    # Registered while private targets were allowed (as if its DNS pointed elsewhere then); now they are not.
    created = endpoint(receiver.url(host="localhost"))
    settings.WEBHOOK_ALLOW_PRIVATE = False

    with committed():
        response = auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert receiver.received == []
    assert delivery.error.startswith("Refused: Webhooks cannot be sent to localhost (")
    assert delivery.error.endswith("): it is a loopback address.")
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("pending", 1, None)


def test_delivery_connects_to_the_checked_address_with_the_urls_host(endpoint, receiver, auth_client, committed):
    created = endpoint(receiver.url("/hook?token=abc", host="localhost"))

    with committed():
        auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")

    [request] = receiver.wait_for(1)
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.path == "/hook?token=abc"
    assert request.verified(created["secret"])["type"] == "webhook.test"


def test_a_redirect_is_not_followed(endpoint, receiver, auth_client, committed):
    elsewhere = Receiver()
    try:
        receiver.answer(("redirect", elsewhere.url()), ("redirect", "http://169.254.169.254/latest/meta-data/"))
        created = endpoint(receiver.url())
        with committed():
            auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")
            auth_client.post(f"{WEBHOOKS_URL}{created['id']}/test/")
        receiver.wait_for(2)
    finally:
        elsewhere.stop()

    assert elsewhere.received == []
    deliveries = WebhookDelivery.objects.order_by("pk")
    assert [(d.status_code, d.state, d.error) for d in deliveries] == [(302, "pending", "")] * 2
