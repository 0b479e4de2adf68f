"""What the image services refuse with (config.errors.DomainError: a kind, a code, a message, data), and the one
internal error of the variants. config.exceptions answers each; nothing here knows HTTP."""

from dataclasses import asdict

from django.template.defaultfilters import filesizeformat

from config import errors
from config.errors import DomainError


class QuotaExceeded(DomainError):
    """Storing this would take the account over its quota (docs/direct-uploads.md, "Per-user quota").

    A conflict (409): not 413 (that is this request's body being too large, and a signing request has a tiny body),
    not 403 (nothing about the credentials), not 507 (a 5xx that clients and proxies retry): the account's state
    conflicts with the request, and the client can resolve it by deleting images (RFC 9110, 15.5.10).
    """

    kind = errors.CONFLICT
    code = "quota_exceeded"

    def __init__(self, usage, size: int) -> None:
        super().__init__(
            f"This upload ({filesizeformat(size)}) would exceed your storage quota: "
            f"{filesizeformat(usage.bytes)} of {filesizeformat(usage.quota_bytes)} used.",
            usage=asdict(usage),  # answered beside the message, as numbers
            size=size,
        )


class DuplicateImage(DomainError):
    """The user already has an image with these bytes and IMAGE_DUPLICATES does not allow another: `policy`
    "reuse" answers `existing` instead, "refuse" answers this (under "image", naming it)."""

    kind = errors.CONFLICT
    code = "duplicate_image"
    field = "image"

    def __init__(self, existing, policy: str) -> None:
        super().__init__(f"You already have this image (id {existing.pk}).", existing_id=existing.pk)
        self.existing, self.policy = existing, policy


class StoredFileClaimed(DomainError):
    """The sweeper took a file whose row was too slow to commit (it is being deleted): nothing was saved."""

    kind = errors.UNAVAILABLE
    code = "storage_unavailable"
    message = "The upload took too long to be stored; send it again."


class UploadNotReceived(DomainError):
    """Completing an upload whose file has not arrived in the store (yet)."""

    kind = errors.CONFLICT
    code = "upload_not_received"
    message = "Nothing has been uploaded yet: POST the file to the upload's url with its fields, then complete."


class UploadExpired(DomainError):
    """The upload's policy expired before any file arrived; the upload is gone."""

    kind = errors.GONE
    code = "upload_expired"
    message = "The upload expired before its file arrived; start a new upload."


class UploadGone(DomainError):
    """The upload was deleted meanwhile (refused, swept, its owner deleted)."""

    kind = errors.NOT_FOUND
    code = "not_found"
    message = "Not found."


class PolicyRefused(DomainError):
    """The local store: the POST does not satisfy its signed policy, or the PUT its signed URL (S3 answers
    AccessDenied or SignatureDoesNotMatch)."""

    kind = errors.FORBIDDEN
    code = "policy_refused"


class LengthRequired(DomainError):
    """The local store: a PUT without a Content-Length (S3's MissingContentLength)."""

    kind = errors.LENGTH_REQUIRED
    code = "length_required"
    message = "A PUT needs a Content-Length header: the exact size that was signed."


class IncompleteBody(DomainError):
    """The local store: the body ended before its Content-Length (S3's IncompleteBody)."""

    kind = errors.INVALID
    code = "incomplete_body"
    message = "The body ended before the bytes its Content-Length announced."


class CompletionsBusy(DomainError):
    """This process verifies as many completions as it may at once; the client retries after a moment."""

    kind = errors.UNAVAILABLE
    code = "completions_busy"
    message = "Too many uploads are being completed right now; retry in a moment."
    # A slot frees when a verification ends (a worker's takes a fraction of a second; without a worker,
    # IMAGE_DIRECT_UPLOAD_VERIFY_WAIT and a decode): sooner would mostly meet the same answer.
    retry_after = 2


class UnprocessableImageError(Exception):
    """The stored file cannot be turned into variants: trying again would not help (the job marks it failed)."""
