"""Where files go on S3: django-storages' S3Storage, private, with its presigned URLs reused; listing a store."""
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from django.core.files.storage import Storage
from storages.backends.s3 import S3Storage

from config.cache import cache_get, cache_set


class PrivateS3Storage(S3Storage):
    """S3Storage whose presigned GET URLs are cached for half their lifetime.

    botocore takes about a millisecond to sign a URL, and a listed image has three (the file, twice,
    and each variant), so a page of 100 would spend a third of a second signing. From the cache, a
    client also sees the same URL again while it is valid, and its browser can reuse the image it has.
    The cache is an optimisation: while it is unreachable, URLs are signed afresh (config.cache).
    """

    def url(self, name: str, parameters=None, expire=None, http_method=None) -> str:
        if parameters or expire is not None or http_method or not self.querystring_auth:
            return super().url(name, parameters, expire, http_method)
        place = f"{self.endpoint_url}|{self.bucket_name}|{self.access_key}|{name}"
        key = "s3-url:" + hashlib.sha256(place.encode()).hexdigest()
        url = cache_get(key)
        if url is None:
            url = super().url(name)
            cache_set(key, url, timeout=max(self.querystring_expire // 2, 1))
        return url


def stored_objects(storage: Storage, prefix: str) -> Iterator[tuple[str, datetime]]:
    """Yield (name, last modified) of every stored file whose name starts with `prefix`.

    One paginated listing on S3 (1,000 keys a request), a walk of the folder on local disk.
    """
    if isinstance(storage, S3Storage):
        location = storage.location.strip("/")
        key_prefix = f"{location}/{prefix}" if location else prefix
        paginator = storage.connection.meta.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=key_prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(key_prefix) - len(prefix):], obj["LastModified"]
        return
    root = Path(storage.path(""))
    for folder, _, files in os.walk(root / prefix):
        for file in files:
            path = Path(folder, file)
            yield path.relative_to(root).as_posix(), datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
