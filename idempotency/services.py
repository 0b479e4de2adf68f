"""Safe retries of POSTs: the Idempotency-Key header (IETF httpapi draft "The Idempotency-Key HTTP Header Field").

A client that lost an answer (a timeout, a dropped connection) sends the request again with the same key. The
first success is recorded with what it created, in the transaction that created it; a repeat of the same request
with that key then answers it again and creates nothing. Failures are not recorded (they created nothing), so a
retry after a failure runs again. Keys belong to one user (or one client address, signed out), for
IDEMPOTENCY_KEY_TTL_HOURS.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import errors
from config.errors import DomainError

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
# A Structured Field string ("...") as the draft writes it, or the same characters unquoted as clients often send.
KEY_FORMAT = re.compile(r'^(?:"([\x20-\x21\x23-\x7e]{1,255})"|([\x21\x23-\x7e][\x20-\x21\x23-\x7e]{0,254}))$')


class KeyMalformed(DomainError):
    """The header is not 1 to 255 printable ASCII characters."""

    code = "invalid_idempotency_key"
    message = f"The {HEADER} header must be 1 to 255 printable ASCII characters, e.g. a UUID."


class KeyReused(DomainError):
    """The key was used for another request (another body or endpoint): 422 in the draft."""

    kind = errors.UNPROCESSABLE
    code = "idempotency_key_reused"
    message = f"This {HEADER} was used for another request; use a new key for a new request."


class KeyInUse(DomainError):
    """A request with the same key is being processed (or just succeeded, concurrently): 409 in the draft, and a
    moment later the same request answers what it created."""

    kind = errors.CONFLICT
    code = "idempotency_key_in_use"
    message = f"A request with this {HEADER} is being processed; retry it in a moment."
    retry_after = 1


def key_from_header(value: str | None) -> str | None:
    """The key of an Idempotency-Key header, None without one; raises KeyMalformed."""
    if value is None:
        return None
    match = KEY_FORMAT.match(value.strip())
    if not match or not (match.group(1) or match.group(2)).strip():
        raise KeyMalformed()
    return match.group(1) or match.group(2)


def request_fingerprint(method: str, path: str, data) -> str:
    """SHA-256 of what makes a request the same request: its method, path, fields and files' bytes.

    Independent of how the body was encoded: another multipart boundary, another order of fields or JSON keys.
    """
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    if hasattr(data, "lists"):  # a form (QueryDict): fields and files
        for name, values in sorted(data.lists()):
            for value in values:
                digest.update(f"{name}={_field_fingerprint(value)}\n".encode())
    else:
        digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _field_fingerprint(value) -> str:
    if not isinstance(value, UploadedFile):
        return json.dumps(value)
    content = hashlib.sha256()
    for chunk in value.chunks():
        content.update(chunk)
    value.seek(0)
    return f"file:{json.dumps(value.name)}:{content.hexdigest()}"


@dataclass
class IdempotentRequest:
    """One request with an Idempotency-Key: find its earlier success, or record this one's."""

    scope: str
    key: str
    fingerprint: str
    recorded: bool = False

    def _rows(self):
        return IdempotencyKey.objects.filter(scope=self.scope, key=self.key)

    def earlier(self) -> IdempotencyKey | None:
        """The earlier success of this request with this key, if any; raises KeyReused for another request's."""
        expired = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
        row = self._rows().filter(created_at__gte=expired).first()
        if row is not None and row.fingerprint != self.fingerprint:
            raise KeyReused()
        return row

    def record(self, resource_id, status_code: int = 201) -> None:
        """Record this request's success and what it created, in the transaction that creates it.

        Raises KeyInUse (or KeyReused, for another request) when a concurrent request with this key committed
        first: raised inside that transaction, it rolls the second creation back.
        """
        if not self._insert(resource_id, status_code):
            # The key is taken. By a row past its time: a key may be used again once it has expired (looked for
            # only now, so that the usual request pays no query for it).
            expired = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
            if not self._rows().filter(created_at__lt=expired).delete()[0] or not self._insert(
                resource_id, status_code
            ):
                self.earlier()  # KeyReused when it was another request
                raise KeyInUse()
        self.recorded = True

    def _insert(self, resource_id, status_code: int) -> bool:
        """Insert this request's row; False when the key is taken."""
        try:
            with transaction.atomic():  # a savepoint: the conflict is answered, not a broken transaction
                IdempotencyKey.objects.create(
                    scope=self.scope,
                    key=self.key,
                    fingerprint=self.fingerprint,
                    status_code=status_code,
                    resource_id=str(resource_id),
                )
        except IntegrityError:
            return False
        return True

    def succeeded_concurrently(self) -> bool:
        """After this request failed: whether the same request with this key succeeded meanwhile."""
        try:
            return self.earlier() is not None
        except KeyReused:
            return False


def idempotency_keys_purge() -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_TTL_HOURS; return how many."""
    expired = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=expired).delete()
    return deleted
