"""What a request sent with an Idempotency-Key created, for its repeats to answer."""

from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A request with an Idempotency-Key that succeeded: whose key, which request, and what it answered.

    Written in the transaction that creates what the request created (services.IdempotentRequest.record), so
    a row exists exactly when that creation committed, even if the process died before answering.
    """

    scope = models.CharField(max_length=80, help_text='Whose keys: "user:<id>", or "client:<address>" signed out.')
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body of the request.")
    status_code = models.PositiveSmallIntegerField()
    resource_id = models.CharField(max_length=64, help_text="The id of what the request created or answered.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
