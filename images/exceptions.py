"""Errors of the file storage, answered as a JSON 503 rather than a 500 with a traceback."""
import logging

from botocore.exceptions import BotoCoreError, ClientError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

# What boto3 raises when the store is down, refuses the credentials or lacks the bucket.
STORAGE_ERRORS = (BotoCoreError, ClientError)


class StorageUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The file storage is unavailable. Try again later."
    default_code = "storage_unavailable"


def api_exception_handler(exc: Exception, context: dict):
    """DRF's handler, with storage errors turned into StorageUnavailable (and logged for operators)."""
    if isinstance(exc, STORAGE_ERRORS):
        logger.error("File storage error in %s", type(context.get("view")).__name__, exc_info=exc)
        exc = StorageUnavailable()
    return exception_handler(exc, context)
