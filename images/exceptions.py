"""Errors of the file storage, answered as a JSON 503 rather than a 500 with a traceback."""
from botocore.exceptions import BotoCoreError, ClientError
from rest_framework import status
from rest_framework.exceptions import APIException

# What boto3 raises when the store is down, refuses the credentials or lacks the bucket.
STORAGE_ERRORS = (BotoCoreError, ClientError)


class StorageUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The file storage is unavailable. Try again later."
    default_code = "storage_unavailable"
