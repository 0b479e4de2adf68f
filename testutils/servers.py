"""Servers on loopback that the service calls out to: a webhook receiver, an SMTP server's slow handler."""

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request the receiver got: its path, headers (lower-case names) and body."""

    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict:
        """The payload, once `standardwebhooks` has checked the signature with this secret (raises if wrong).

        Every delivery is checked with that reference library, never with the service's own signing code.
        """
        from standardwebhooks.webhooks import Webhook

        return Webhook(secret).verify(self.body, self.headers)

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver: a ThreadingHTTPServer on 127.0.0.1, serving from a thread of ours, that records every
    request and answers from a script.

    `answers` is consumed one per request: a status (200, 500...), ("redirect", URL), or "hang" (no answer until
    the receiver stops). When it is empty the answer is `status`. While `slow` is set each request is held
    `slow_seconds` before it is recorded and answered (`in_flight` counts those being held), so that a worker can be
    killed in the middle of a delivery. `changed` guards `received` and is notified of each request.
    """

    def __init__(self, status: int = 200, slow_seconds: float = 3) -> None:
        self.received: list[Received] = []
        self.answers: deque = deque()
        self.status, self.slow_seconds = status, slow_seconds
        self.in_flight = 0
        self.slow = threading.Event()
        self.changed = threading.Condition()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver.changed:
                    receiver.in_flight += 1
                try:
                    if receiver.slow.is_set():
                        time.sleep(receiver.slow_seconds)
                    with receiver.changed:
                        receiver.received.append(Received(self.path, headers, body))
                        answer = receiver.answers.popleft() if receiver.answers else receiver.status
                        receiver.changed.notify_all()
                    self.reply(answer)
                finally:
                    with receiver.changed:
                        receiver.in_flight -= 1

            def reply(self, answer) -> None:
                if answer == "hang":
                    receiver.released.wait(60)
                    return
                if isinstance(answer, tuple):  # ("redirect", location)
                    self.send_response(302)
                    self.send_header("Location", answer[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if answer == 204:
                    self.send_response(204)
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
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

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


class SlowMailServer:
    """An aiosmtpd handler that takes `delay` seconds to accept each mail, as a remote relay does; counts them."""

    def __init__(self, delay: float) -> None:
        self.delay, self.received = delay, 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        await asyncio.sleep(self.delay)
        self.received += 1
        return "250 Message accepted for delivery"
