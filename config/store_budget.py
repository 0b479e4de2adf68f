"""A time budget for the file store's calls within one API request: a hung store is a JSON 503 in seconds.

boto3 bounds each attempt (AWS_S3_CONNECT_TIMEOUT, AWS_S3_READ_TIMEOUT) and retries (AWS_S3_MAX_ATTEMPTS), but
nothing bounds their sum. Within a request, no new attempt starts once AWS_S3_REQUEST_BUDGET seconds have passed
since its first call to the store: an upload to a store that does not answer gets its 503 within about the budget
plus one read timeout. Counted from the first call, not the request's start, so that a slow client's body is not
held against the store. Outside requests (workers, commands) there is no budget: they retry on their own.
"""

import time
from contextvars import ContextVar

from botocore.exceptions import BotoCoreError
from django.conf import settings


class StoreBudgetSpent(BotoCoreError):
    """The request's time for calls to the store is spent (the store is hung or overloaded): a JSON 503."""

    fmt = "The file store did not answer within the request's budget of {budget} s."


class _Budget:
    first_call: float | None = None


_request_budget: ContextVar[_Budget | None] = ContextVar("store_budget", default=None)


def store_attempt_check(**kwargs) -> None:
    """Before each attempt of a call to the store (botocore's before-send event): raise StoreBudgetSpent when
    the current request's budget is spent."""
    budget = _request_budget.get()
    if budget is None:
        return
    now = time.monotonic()
    if budget.first_call is None:
        budget.first_call = now
    elif now - budget.first_call > settings.AWS_S3_REQUEST_BUDGET:
        raise StoreBudgetSpent(budget=settings.AWS_S3_REQUEST_BUDGET)


class StoreBudgetMiddleware:
    """Give each request a fresh budget for its calls to the store."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = _request_budget.set(_Budget())
        try:
            return self.get_response(request)
        finally:
            _request_budget.reset(token)
