"""The API's errors are JSON in DRF's shape, including those Django and boto3 raise underneath."""
import logging

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

# What boto3 raises when the store is down, refuses the credentials or lacks the bucket.
STORAGE_ERRORS = (BotoCoreError, ClientError)


class StorageUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The file storage is unavailable. Try again later."
    default_code = "storage_unavailable"


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def api_exception_handler(exc: Exception, context: dict):
    """DRF's handler, after turning storage and request-parsing errors into API errors."""
    if isinstance(exc, STORAGE_ERRORS):
        logger.error("File storage error in %s", type(context.get("view")).__name__, exc_info=exc)
        exc = StorageUnavailable()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = ParseError(str(exc))
    return exception_handler(exc, context)
