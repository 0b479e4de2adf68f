"""The API's errors are JSON in DRF's shape, including those Django, boto3, Redis and the broker raise underneath,
and the refusals services raise (config.errors.DomainError), each mapped here to its status once.

A dependency that is down (the database, the cache, the broker, the file store) is a 503 with
Retry-After, never a 500: the client is told to come back, and nothing was half-done.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail, ParseError, UnsupportedMediaType, ValidationError
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from . import errors
from .authentication import token_refused
from .unavailable import BROKER_ERRORS, CACHE_ERRORS, DATABASE_ERRORS, STORAGE_ERRORS

logger = logging.getLogger(__name__)


class ServiceUnavailable(APIException):
    """A dependency is down: 503, and a Retry-After header (DRF's handler sends `wait` as Retry-After)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is unavailable. Try again later."
    default_code = "service_unavailable"

    def __init__(self, detail=None, code=None) -> None:
        super().__init__(detail, code)
        self.wait = settings.RETRY_AFTER_SECONDS


class StorageUnavailable(ServiceUnavailable):
    default_detail = "The file storage is unavailable. Try again later."
    default_code = "storage_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    default_detail = "The database is unavailable. Try again later."
    default_code = "database_unavailable"


class CacheUnavailable(ServiceUnavailable):
    default_detail = "The cache is unavailable. Try again later."
    default_code = "cache_unavailable"


class BrokerUnavailable(ServiceUnavailable):
    default_detail = "The task queue is unavailable. Try again later."
    default_code = "broker_unavailable"


UNAVAILABLE = (
    (STORAGE_ERRORS, StorageUnavailable),
    (DATABASE_ERRORS, DatabaseUnavailable),
    (CACHE_ERRORS, CacheUnavailable),
    (BROKER_ERRORS, BrokerUnavailable),
)


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def unavailable_error(exc: BaseException | None) -> ServiceUnavailable | None:
    """The 503 for an error that means a dependency is down, or None for any other error."""
    for raised, unavailable in UNAVAILABLE:
        if isinstance(exc, raised):
            return unavailable()
    return None


DOMAIN_STATUS = {
    errors.INVALID: status.HTTP_400_BAD_REQUEST,
    errors.UNAUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    errors.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    errors.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    errors.CONFLICT: status.HTTP_409_CONFLICT,
    errors.GONE: status.HTTP_410_GONE,
    errors.LENGTH_REQUIRED: status.HTTP_411_LENGTH_REQUIRED,
    errors.UNPROCESSABLE: status.HTTP_422_UNPROCESSABLE_ENTITY,
    errors.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
}


class DomainErrorAnswer(APIException):
    """A DomainError as DRF answers it: `extra_data` beside the message, `wait` as Retry-After."""

    extra_data: dict | None = None
    wait: int | None = None


def domain_error_answer(exc: errors.DomainError) -> DomainErrorAnswer:
    """The API error of a service's refusal: its kind's status, its message and code, its extra data."""
    answer = DomainErrorAnswer(exc.message, exc.code)
    answer.status_code = DOMAIN_STATUS[exc.kind]
    if exc.field:  # under the field, as a validation error of that field is
        answer.detail = {exc.field: [ErrorDetail(exc.message, exc.code)], **exc.extra}
    else:
        answer.extra_data = {"code": exc.code, **exc.extra}
    if exc.retry_after is not None or exc.kind == errors.UNAVAILABLE:
        answer.wait = exc.retry_after or settings.RETRY_AFTER_SECONDS  # DRF's handler sends it as Retry-After
    return answer


def _simplejwt_default(exc: InvalidToken) -> bool:
    """Whether the error is SimpleJWT's own "token_not_valid", not one that says already what is wrong."""
    return isinstance(exc.detail, dict) and exc.detail.get("code") == InvalidToken.default_code


def api_exception_handler(exc: Exception, context: dict):
    """DRF's handler, after turning dependency outages and request-parsing errors into API errors."""
    unavailable = unavailable_error(exc)
    if isinstance(exc, errors.DomainError):
        exc = domain_error_answer(exc)
    elif isinstance(exc, DjangoValidationError):  # a model's or service's checks, outside a serializer's validation
        exc = ValidationError(as_serializer_error(exc))
    elif unavailable is not None:
        logger.error("%s in %s", unavailable.default_code, type(context.get("view")).__name__, exc_info=exc)
        exc = unavailable
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = ParseError(str(exc))
    elif isinstance(exc, InvalidToken) and isinstance(exc.__cause__, TokenError) and _simplejwt_default(exc):
        # SimpleJWT's token views (refresh, verify, logout) raise InvalidToken(message) from the TokenError.
        exc = token_refused(exc.__cause__, expected=str(getattr(context.get("view"), "token_kind", None) or "refresh"))
    elif isinstance(exc, UnsupportedMediaType) and getattr(context.get("view"), "media_type_hint", None):
        # A view that takes one kind of body says which (the upload: multipart with an "image" field).
        exc = UnsupportedMediaType(context["request"].content_type, f"{exc.detail} {context['view'].media_type_hint}")
    response = exception_handler(exc, context)
    # An error may carry more than its message, e.g. the usage and quota beside a quota's "detail".
    extra = getattr(exc, "extra_data", None)
    if response is not None and extra and isinstance(response.data, dict):
        response.data.update(extra)
    return response
