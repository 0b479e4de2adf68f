"""A real HTTP receiver on loopback that webhooks are delivered to, and helpers to register endpoints with the API.

Every delivery it records is checked with the reference library, `standardwebhooks`, never with the service's
own signing code.
"""

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

WEBHOOKS_URL = "/api/webhooks/"


@dataclass(frozen=True)
class Received:
    """One request the receiver got: its path, headers (lower-case names) and body."""

    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict:
        """The payload, once `standardwebhooks` has checked the signature with this secret (raises if wrong)."""
        return Webhook(secret).verify(self.body, self.headers)

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 recording every request and answering from a script.

    `answers` is consumed one per request: a status (200, 500...), ("redirect", URL), or "hang" (no answer until
    the receiver stops). When it is empty the answer is 200.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque = deque()
        self.changed = threading.Condition()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver.changed:
                    receiver.received.append(Received(self.path, headers, body))
                    answer = receiver.answers.popleft() if receiver.answers else 200
                    receiver.changed.notify_all()
                if answer == "hang":
                    receiver.released.wait(60)
                    return
                if isinstance(answer, tuple):  # ("redirect", location)
                    self.send_response(302)
                    self.send_header("Location", answer[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                reply = json.dumps({"received": answer < 300}).encode() + b" " * 10_000  # longer than what is read
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def answer(self, *answers) -> None:
        self.answers.extend(answers)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """The requests, once there are at least `count` (fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{len(self.received)} of {count} webhook(s) received"
                self.changed.wait(remaining)
            return list(self.received)

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
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
