from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    """Idempotency-Key: a POST repeated with the same key answers what the first one created."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "idempotency"
