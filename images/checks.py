"""System checks: `manage.py check` tells an operator when S3 is switched on without what it needs."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string
from storages.backends.s3 import S3Storage


@register(Tags.compatibility, deploy=False)
def check_s3_settings(app_configs, **kwargs) -> list[CheckMessage]:
    """Warn about missing credentials, and refuse a missing bucket, when the default storage is S3."""
    storage: dict[str, Any] = settings.STORAGES["default"]
    if not issubclass(import_string(storage["BACKEND"]), S3Storage):
        return []
    options: dict[str, Any] = storage.get("OPTIONS", {})
    messages: list[CheckMessage] = []
    if not options.get("bucket_name"):
        messages.append(
            Error("USE_S3 is on but AWS_STORAGE_BUCKET_NAME is not set.", hint="Set it in .env.", id="images.E001")
        )
    for option, key, check_id in (
        ("access_key", "AWS_ACCESS_KEY_ID", "images.W001"),
        ("secret_key", "AWS_SECRET_ACCESS_KEY", "images.W002"),
    ):
        if not options.get(option):
            messages.append(
                Warning(
                    f"USE_S3 is on but {key} is not set.",
                    hint="Set it in .env, unless boto3 finds credentials itself (an instance or task role).",
                    id=check_id,
                )
            )
    return messages
