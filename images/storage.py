"""Where files go and how they are reached: private S3 with presigned URLs, or local files behind signed URLs;
listing a store; signing a direct upload to the store and copying what arrived.

The project owns both storage classes, so every difference between the two stores is a method of each (signing,
listing, reading a prefix of a file, copying inside the store, a probe); callers never ask which store it is.

Either way a file's URL is the only key to it, it expires, and it names the file for downloads.
"""

import base64
import functools
import hashlib
import hmac
import json
import mimetypes
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import cast
from urllib.parse import urlencode

from botocore.exceptions import ClientError
from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import filepath_to_uri
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from config.background import after_response
from config.cache import cache_get, cache_set
from config.store_budget import store_attempt_check

from .validators import ALLOWED_FORMATS

MEDIA_SIGNING_SALT = "images.storage.media"
# The local store's signed direct uploads (a POST's policy, a PUT's URL), as S3 signs them with its keys.
DIRECT_UPLOAD_POLICY_SALT = "images.direct_uploads.local-policy"
DIRECT_UPLOAD_PUT_SALT = "images.storage.direct-upload-put"


def stored_content_type(name: str) -> str:
    """The Content-Type of a stored file: its format's, as its extension was given from its bytes."""
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    for fmt in ALLOWED_FORMATS.values():
        if extension in fmt.extensions:
            return fmt.mime_type
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class ImageStorage(Storage):
    """What the service needs of a store beyond Django's Storage, which both of its classes below provide: the two
    stores' differences are these methods, so callers never ask which store it is (image_storage() gives it)."""

    serves_signed_media = False  # whether /media/ URLs are this store's (images.views.serve_media)

    def download_url(self, name: str, filename: str = "", *, new: bool = False) -> str:
        """The file's URL, which makes browsers and `curl -OJ` save it as `filename`.

        `new`: the file was just stored (the upload's answer), so it is signed without looking in a cache.
        """
        # Both classes' url() take the parameters too (signed with the rest).
        sign: Callable[..., str] = self.url_of_new_file if new else self.url
        if filename:
            disposition = content_disposition_header(as_attachment=False, filename=filename)
            return sign(name, parameters={"ResponseContentDisposition": disposition})
        return sign(name)

    def url_of_new_file(self, name: str, parameters: dict | None = None) -> str:
        """The URL of a file just stored, signed without looking in a cache (nothing is cached under its name yet)."""
        raise NotImplementedError

    def save_replacing(self, name: str, content: File) -> str:
        """Store the content under exactly this name, replacing what is there in one step."""
        raise NotImplementedError

    def stored_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Yield (name, last modified) of every stored file whose name starts with `prefix`."""
        raise NotImplementedError

    def read_prefix(self, name: str, limit: int) -> bytes:
        """At most `limit` bytes of a stored file; raises FileNotFoundError when there is none."""
        raise NotImplementedError

    def copy(self, name: str, new_name: str, content_type: str) -> None:
        """Copy a stored file to `new_name` (a name not in use) with this Content-Type; FileNotFoundError if none."""
        raise NotImplementedError

    def probe(self) -> None:
        """Raise the store's error unless it can be used now (the health check)."""
        raise NotImplementedError

    def direct_upload_post(
        self, name: str, *, content_type: str, size: int, expires_at: datetime, tagging: bool = False
    ) -> dict:
        """Sign a browser-style POST of one file at exactly `name`: {"url", "fields"}."""
        raise NotImplementedError

    def direct_upload_put(
        self, name: str, *, content_type: str, size: int, expires_at: datetime, tagging: bool = False
    ) -> dict:
        """Sign a PUT of exactly `size` bytes of this Content-Type at exactly `name`: {"url", "headers"}."""
        raise NotImplementedError


def image_storage() -> ImageStorage:
    """The default storage: always one of the classes below (STORAGES in settings)."""
    return cast(ImageStorage, default_storage)


class PrivateS3Storage(S3Storage, ImageStorage):
    """S3Storage whose presigned GET URLs name the file's Content-Type and are cached for half their lifetime,
    and whose calls within an API request stop once the request's budget is spent (config.store_budget).

    The type: S3 answers a presigned GET with the headers stored on the object; the URL asks it for the
    format's type whatever the object carries (response-content-type, signed with the rest), so no file is
    ever served as anything but its image type. S3 cannot be asked for other headers, such as
    X-Content-Type-Options: nosniff (docs/storage.md, "S3 Storage"); browsers do not sniff an image type into HTML.

    The cache: botocore takes about a millisecond to sign a URL, and a listed image has three (the file,
    twice, and each variant), so a page of 100 would spend a third of a second signing. From the cache, a
    client also sees the same URL again while it is valid, and its browser can reuse the image it has.
    The cache is an optimisation: while it is unreachable, URLs are signed afresh (config.cache).
    """

    def save_replacing(self, name: str, content: File) -> str:
        """Store the content under exactly this name in one PUT, replacing what is there (S3 replaces atomically)."""
        return self._save(name, content)

    def direct_upload_post(
        self, name: str, *, content_type: str, size: int, expires_at: datetime, tagging: bool = False
    ) -> dict:
        """Sign a browser-style POST of one object at exactly `name`, with conditions the store itself enforces.

        That key only (boto3 adds the condition), 1 to `size` bytes, a Content-Type starting with image/,
        until `expires_at`. Returns {"url", "fields"}: the client POSTs `fields` and then the file.
        """
        fields = {"Content-Type": content_type}
        conditions: list = [["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, size]]
        if tagging:
            fields["tagging"] = PENDING_TAGGING
            conditions.append({"tagging": PENDING_TAGGING})
        return self.connection.meta.client.generate_presigned_post(
            self.bucket_name,
            self.key(name),
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=_seconds_until(expires_at),
        )

    def direct_upload_put(
        self, name: str, *, content_type: str, size: int, expires_at: datetime, tagging: bool = False
    ) -> dict:
        """Sign a PUT of exactly `size` bytes of this Content-Type at exactly `name`, until `expires_at`.

        Content-Length and Content-Type are signed headers (SigV4), so the store itself refuses another size,
        another type, another key or a late request. Returns {"url", "headers"}: the client sends `headers`
        with the bytes (its HTTP library sets the Content-Length, which browsers never let a page set).
        """
        params = {
            "Bucket": self.bucket_name,
            "Key": self.key(name),
            "ContentType": content_type,
            "ContentLength": size,
        }
        headers = {"Content-Type": content_type}
        if tagging:
            params["Tagging"] = headers["x-amz-tagging"] = PENDING_TAGGING_QUERY
        url = self.connection.meta.client.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=_seconds_until(expires_at)
        )
        return {"url": url, "headers": headers}

    def key(self, name: str) -> str:
        """The object key of a storage name (the storage's `location` in front)."""
        return self._normalize_name(clean_name(name))

    def stored_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Yield (name, last modified) of every object whose name starts with `prefix`: one paginated listing
        (1,000 keys a request)."""
        key_prefix = self.key(prefix)
        paginator = self.connection.meta.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket_name, Prefix=key_prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(key_prefix) - len(prefix) :], obj["LastModified"]

    def read_prefix(self, name: str, limit: int) -> bytes:
        """At most `limit` bytes of a stored file: one ranged GET into memory (no temporary file).

        Raises FileNotFoundError when there is no such object.
        """
        try:
            response = self.connection.meta.client.get_object(
                Bucket=self.bucket_name, Key=self.key(name), Range=f"bytes=0-{limit - 1}"
            )
        except ClientError as exc:
            raise _not_found_or(exc) from None
        return response["Body"].read()

    def copy(self, name: str, new_name: str, content_type: str) -> None:
        """Copy an object to `new_name` (a name not in use) inside the store, no byte passing through the service,
        with the storage's usual write parameters, this Content-Type and no tags.

        Raises FileNotFoundError when there is no object at `name`.
        """
        params = {**self.get_object_parameters(new_name), "ContentType": content_type}
        try:
            self.connection.meta.client.copy_object(
                Bucket=self.bucket_name,
                Key=self.key(new_name),
                CopySource={"Bucket": self.bucket_name, "Key": self.key(name)},
                MetadataDirective="REPLACE",
                TaggingDirective="REPLACE",
                Tagging="",
                **params,
            )
        except ClientError as exc:
            raise _not_found_or(exc) from None

    def probe(self) -> None:
        """Reachable, credentials accepted, bucket there: one HEAD request; raises the store's error otherwise."""
        self.connection.meta.client.head_bucket(Bucket=self.bucket_name)

    @property
    def connection(self):
        new = getattr(self._connections, "connection", None) is None
        connection = super().connection  # one per thread
        if new:
            connection.meta.client.meta.events.register("before-send.s3", store_attempt_check)
        return connection

    # S3Storage.url is called by name below: S3Storage is the next class that has one (ImageStorage has none).
    def url(self, name: str, parameters=None, expire=None, http_method=None) -> str:  # type: ignore[override]
        if not http_method or http_method == "GET":
            parameters = {"ResponseContentType": stored_content_type(name), **(parameters or {})}
        if expire is not None or http_method or not self.querystring_auth:
            return S3Storage.url(self, name, parameters, expire, http_method)
        key = self._url_cache_key(name, parameters)
        url = cache_get(key)
        if url is None:
            url = S3Storage.url(self, name, parameters)
            cache_set(key, url, timeout=max(self.querystring_expire // 2, 1))
        return url

    def url_of_new_file(self, name: str, parameters: dict | None = None) -> str:
        """The URL of a file just stored: signed at once (nothing can be cached under its new name yet), and cached
        for the reads that follow once the answer has been sent."""
        parameters = {"ResponseContentType": stored_content_type(name), **(parameters or {})}
        if not self.querystring_auth:
            return S3Storage.url(self, name, parameters)
        url = S3Storage.url(self, name, parameters)
        after_response(cache_set, self._url_cache_key(name, parameters), url, max(self.querystring_expire // 2, 1))
        return url

    def _url_cache_key(self, name: str, parameters: dict) -> str:
        # The parameters (a download name) are part of what is signed, so of the key too.
        signed = json.dumps(parameters, sort_keys=True)
        place = f"{self.endpoint_url}|{self.bucket_name}|{self.access_key}|{name}|{signed}"
        return "s3-url:" + hashlib.sha256(place.encode()).hexdigest()


class SignedFileSystemStorage(FileSystemStorage, ImageStorage):
    """Local files whose URLs carry an expiry and a signature in the query string, as S3's presigned ones.

    /media/images/1/{uuid}_cat.jpg?expires=...&signature=... (the spec's path; `images.views.serve_media`
    checks the query). Without a given `expire`, the expiry is rounded up to a window of half of
    MEDIA_URL_EXPIRE, so a URL stays the same for a while (a browser reuses what it fetched) and is
    valid for between half and all of MEDIA_URL_EXPIRE.
    """

    def save_replacing(self, name: str, content: File) -> str:
        """Store the content under exactly this name, replacing what is there in one step (a rename over it)."""
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".replacing-", delete=False) as temporary:
            for chunk in content.chunks():
                temporary.write(chunk)
        if self.file_permissions_mode is not None:
            os.chmod(temporary.name, self.file_permissions_mode)
        os.replace(temporary.name, path)
        return name

    def direct_upload_post(
        self, name: str, *, content_type: str, size: int, expires_at: datetime, tagging: bool = False
    ) -> dict:
        """Sign a POST to the service's own URL that stores one file at `name`, as S3's presigned POST does.

        The same form (the key, a Content-Type and a policy signed with SECRET_KEY), so one client works with
        both; `images.direct_uploads.local_upload_receive` enforces it. The URL is a path. No tags on disk.
        """
        policy = signing.dumps(
            {"key": name, "max": size, "expires": int(expires_at.timestamp())}, salt=DIRECT_UPLOAD_POLICY_SALT
        )
        fields = {"key": name, "Content-Type": content_type, "policy": policy}
        return {"url": reverse("images:direct-upload-local"), "fields": fields}

    def direct_upload_put(
        self, name: str, *, content_type: str, size: int, expires_at: datetime, tagging: bool = False
    ) -> dict:
        """Sign a PUT of exactly `size` bytes of this Content-Type to the service's own URL for `name`.

        /api/images/uploads/local/{key}?expires=...&length=...&type=...&signature=...: the signature covers the
        key, the length, the type and the expiry, as S3's signed headers do (`local_put_receive` enforces them).
        The URL is a path.
        """
        expires = int(expires_at.timestamp())
        query = {
            "expires": expires,
            "length": size,
            "type": content_type,
            "signature": direct_upload_put_signature(name, size, content_type, expires),
        }
        path = reverse("images:direct-upload-local-put", kwargs={"key": name})
        return {"url": f"{path}?{urlencode(query)}", "headers": {"Content-Type": content_type}}

    serves_signed_media = True

    def stored_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Yield (name, last modified) of every file whose name starts with `prefix`: a walk of its folder."""
        root = Path(self.path(""))
        for folder, _, files in os.walk(root / prefix):
            for file in files:
                path = Path(folder, file)
                yield path.relative_to(root).as_posix(), datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)

    def read_prefix(self, name: str, limit: int) -> bytes:
        """At most `limit` bytes of a stored file; raises FileNotFoundError when there is none."""
        with self.open(name, "rb") as stored:
            return stored.read(limit)

    def copy(self, name: str, new_name: str, content_type: str) -> None:
        """Copy a file to `new_name` (a name not in use): a hard link (the same bytes, no copy), or a copy across
        filesystems. The type is the extension's (stored_content_type). Raises FileNotFoundError without a file."""
        target = Path(self.path(new_name))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self.path(name), target)
        except FileNotFoundError:
            raise
        except OSError:  # another filesystem
            shutil.copyfile(self.path(name), target)

    def probe(self) -> None:
        """The folder, or the one it will be made in, must be writable; raises OSError otherwise."""
        location = Path(self.location)
        while not location.exists():
            location = location.parent
        if not (location.is_dir() and os.access(location, os.W_OK)):
            raise PermissionError(f"{self.location} is not writable")

    def url(  # type: ignore[override]  # stored names only, never None; and the download parameters
        self, name: str, parameters: dict | None = None, expire: int | None = None
    ) -> str:
        disposition = (parameters or {}).get("ResponseContentDisposition", "")
        if expire is None:
            step = max(settings.MEDIA_URL_EXPIRE // 2, 1)
            expires = (int(time.time()) // step + 2) * step
        else:
            expires = int(time.time()) + expire
        query = {"response-content-disposition": disposition} if disposition else {}
        query |= {"expires": expires, "signature": media_signature(media_path(name), expires, disposition)}
        # FileSystemStorage.url's urljoin, without its parsing (a list signs a few URLs per image): the base URL ends
        # with "/" and stored names are relative and safe.
        return f"{self.base_url}{filepath_to_uri(name).lstrip('/')}?{urlencode(query)}"

    def url_of_new_file(self, name: str, parameters: dict | None = None) -> str:
        """The URL of a file just stored (signed as any other: nothing is cached here)."""
        return self.url(name, parameters)


def media_path(name: str) -> str:
    """The storage name as it appears (unquoted) after /media/ in its URL."""
    return name.replace("\\", "/").lstrip("/")


def media_signature(path: str, expires: int, disposition: str = "") -> str:
    """The signature of a local file URL: its path, expiry and download name, with SECRET_KEY.

    The one signing.Signer(salt=MEDIA_SIGNING_SALT) makes (media_url_is_valid checks it with Signer, so
    SECRET_KEY_FALLBACKS count), with the key it derives from SECRET_KEY computed once rather than per URL.
    """
    key = _media_signing_key(settings.SECRET_KEY)
    digest = hmac.new(key, f"{path}\n{expires}\n{disposition}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@functools.lru_cache(maxsize=4)
def _media_signing_key(secret: str) -> bytes:
    # django.utils.crypto.salted_hmac's derived key, for Signer's salt + "signer".
    return hashlib.sha256(f"{MEDIA_SIGNING_SALT}signer{secret}".encode()).digest()


def media_url_is_valid(path: str, query) -> bool:
    """Whether a /media/ URL's query signs this path and has not expired (SECRET_KEY_FALLBACKS count)."""
    expires, signature = query.get("expires", ""), query.get("signature", "")
    if not expires.isdigit() or int(expires) < time.time() or not signature:
        return False
    value = f"{path}\n{expires}\n{query.get('response-content-disposition', '')}"
    try:
        signing.Signer(salt=MEDIA_SIGNING_SALT).unsign(f"{value}:{signature}")
    except signing.BadSignature:
        return False
    return True


def direct_upload_put_signature(name: str, size: int, content_type: str, expires: int) -> str:
    """The signature of a local PUT URL: the key, the exact length and type of the body, and the expiry."""
    return signing.Signer(salt=DIRECT_UPLOAD_PUT_SALT).signature(f"{name}\n{size}\n{content_type}\n{expires}")


def direct_upload_put_is_signed(name: str, size: int, content_type: str, expires: int, signature: str) -> bool:
    """Whether a local PUT URL's signature covers this key, length, type and expiry (SECRET_KEY_FALLBACKS count)."""
    try:
        signing.Signer(salt=DIRECT_UPLOAD_PUT_SALT).unsign(f"{name}\n{size}\n{content_type}\n{expires}:{signature}")
    except signing.BadSignature:
        return False
    return True


def direct_upload_policy(policy: str) -> dict:
    """The local store's POST policy, {"key", "max", "expires"}; raises signing.BadSignature for a forged one."""
    return signing.loads(policy, salt=DIRECT_UPLOAD_POLICY_SALT)


def _seconds_until(moment: datetime) -> int:
    return max(int((moment - timezone.now()).total_seconds()), 1)


# The tag that marks a direct upload's object until it is completed (IMAGE_DIRECT_UPLOAD_TAGGING).
PENDING_TAGGING = "<Tagging><TagSet><Tag><Key>upload</Key><Value>pending</Value></Tag></TagSet></Tagging>"
# The same tag in a PUT's x-amz-tagging header (a query string).
PENDING_TAGGING_QUERY = "upload=pending"


def _not_found_or(exc: ClientError) -> Exception:
    """S3's answer for a missing key as FileNotFoundError; any other error as it is."""
    if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
        return FileNotFoundError(str(exc))
    return exc
