"""A real SMTP server on loopback (aiosmtpd) that account mail is sent to, and what it received."""

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from testutils import free_port


@dataclass
class Inbox:
    """What the SMTP server accepted, in order: the envelope's recipients and the parsed message."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [message for recipients, message in self.received if address in recipients]

    def link_in(self, message: EmailMessage) -> str:
        """The one http(s) link in a message's body."""
        links = re.findall(r"https?://\S+", message.get_content())
        assert len(links) == 1, links
        return links[0]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    """An SMTP server on a free loopback port for the whole run."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server, settings) -> Inbox:
    """Send this test's mail by SMTP to the loopback server; return its (emptied) inbox."""
    controller, inbox = smtp_server
    inbox.received.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return inbox
