"""A real HTTP receiver on loopback that webhooks are delivered to, and helpers to register endpoints with the API.

Every delivery it records is checked with the reference library, `standardwebhooks`, never with the service's
own signing code (testutils.Received.verified).
"""

from collections.abc import Iterator

import pytest

from testutils import Receiver

WEBHOOKS_URL = "/api/webhooks/"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _webhooks_stay_on_the_machine(settings) -> None:
    """Tests deliver to their loopback receiver only: nothing else is reachable, whatever a test registers."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.WEBHOOK_TIMEOUT = 5


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs what the block queued for after its commit (deliveries, eager here), as a commit
    would: the test's own transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def endpoint(auth_client):
    """Register an endpoint through the API as `user`; return the 201 body (with its secret)."""

    def register(url: str, **fields) -> dict:
        response = auth_client.post(WEBHOOKS_URL, {"url": url, **fields}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return register
