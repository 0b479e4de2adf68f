"""The one error type services raise when they refuse: what went wrong in the domain's words, no HTTP.

A service says what kind of refusal it is (the request is invalid, conflicts with the state, is gone...), a stable
`code` for programs and a message for people; `config.exceptions` turns every DomainError into its HTTP answer,
in one place, for every app. Nothing below the views knows a status code.
"""

INVALID = "invalid"  # 400: what was sent cannot be accepted
UNAUTHENTICATED = "unauthenticated"  # 401: the credentials are not (any more) good
FORBIDDEN = "forbidden"  # 403: a signature or policy does not allow it
NOT_FOUND = "not_found"  # 404: it does not exist (any more) for this user
CONFLICT = "conflict"  # 409: the current state forbids it (a quota, a duplicate, not arrived yet)
GONE = "gone"  # 410: it existed and expired
LENGTH_REQUIRED = "length_required"  # 411
UNPROCESSABLE = "unprocessable"  # 422: well formed, but contradicts what was said before
UNAVAILABLE = "unavailable"  # 503: try again later (retry_after seconds, else RETRY_AFTER_SECONDS)


class DomainError(Exception):
    """A refusal: its `kind` (above), `code`, message, and `extra` data answered beside them.

    `field`: the message belongs to that input field, and is answered under it as a validation error is
    (`{"image": ["..."], **extra}`); otherwise `{"detail": message, "code": code, **extra}`.
    """

    kind: str = INVALID
    code: str = "invalid"
    message: str = "The request cannot be accepted."
    field: str | None = None
    retry_after: int | None = None

    def __init__(self, message: str | None = None, **extra) -> None:
        self.message = message or self.message
        self.extra = extra
        super().__init__(self.message)
