"""One HTTP POST to a checked address: the connection goes to the address checked, never to a fresh lookup.

http.client rather than requests/urllib3: it follows no redirect, retries nothing, and lets the connection be
made to an IP address of our choosing while the Host header, TLS's server name and the certificate check keep
the URL's host name. A watchdog closes the socket at the deadline, so a receiver that trickles its answer
costs one timeout in all, not one per read.
"""

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from .targets import Target

RESPONSE_READ_BYTES = 4096  # at most this much of an answer's body is read
RESPONSE_EXCERPT_CHARS = 200  # and at most this much of it kept


@dataclass(frozen=True)
class Answer:
    """What an attempt got: the status and the start of the body, or the error; and how long it took."""

    status: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP to addresses given in advance (the first that accepts the connection); Host stays the URL's."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        error: OSError | None = None
        for address in self.addresses:
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
            except ConnectionRefusedError as exc:  # e.g. localhost's ::1 when the server listens on 127.0.0.1
                error = exc
                continue
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return
        raise error or ConnectionRefusedError()


class _PinnedTLSConnection(_PinnedConnection):
    """HTTPS to one address given in advance; the server name (SNI) and the certificate check keep the URL's host."""

    default_port = 443

    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()  # the system's CAs, hostname checked
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST the body to the target's checked addresses; never raises for the receiver's or the network's failures."""
    started = time.monotonic()
    cls = _PinnedTLSConnection if target.url.scheme == "https" else _PinnedConnection
    connection = cls(target.host, target.port, [str(address) for address in target.addresses], timeout)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    status, excerpt, error = None, "", ""
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        data = response.read(RESPONSE_READ_BYTES)
        excerpt = data.decode("utf-8", "replace")[:RESPONSE_EXCERPT_CHARS]
    except (OSError, http.client.HTTPException) as exc:
        if status is None:
            error = "timeout" if timed_out.is_set() or isinstance(exc, TimeoutError) else _describe(exc)
    finally:
        watchdog.cancel()
        connection.close()
    return Answer(status, excerpt, error, round((time.monotonic() - started) * 1000))


def _describe(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"[:300]
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"[:300]
