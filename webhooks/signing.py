"""Standard Webhooks signatures: secrets `whsec_<base64>`, and `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

The specification is a few lines (standardwebhooks.com), so it is written out here rather than taken from a
library; the tests check every delivery with the reference library, `standardwebhooks`, instead of this code.
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64


def secret_generate() -> str:
    """A new signing secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,...` signature of one attempt under one secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret, separated by spaces."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(secret, message_id, timestamp, body) for secret in secrets_in_use),
    }
