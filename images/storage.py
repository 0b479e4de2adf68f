"""Where files go on S3: django-storages' S3Storage, private, with its presigned URLs reused."""
import hashlib

from django.core.cache import cache
from storages.backends.s3 import S3Storage


class PrivateS3Storage(S3Storage):
    """S3Storage whose presigned GET URLs are cached for half their lifetime.

    botocore takes about a millisecond to sign a URL, and a listed image has three (the file, twice,
    and each variant), so a page of 100 would spend a third of a second signing. From the cache, a
    client also sees the same URL again while it is valid, and its browser can reuse the image it has.
    """

    def url(self, name: str, parameters=None, expire=None, http_method=None) -> str:
        if parameters or expire is not None or http_method or not self.querystring_auth:
            return super().url(name, parameters, expire, http_method)
        place = f"{self.endpoint_url}|{self.bucket_name}|{self.access_key}|{name}"
        key = "s3-url:" + hashlib.sha256(place.encode()).hexdigest()
        url = cache.get(key)
        if url is None:
            url = super().url(name)
            cache.set(key, url, timeout=max(self.querystring_expire // 2, 1))
        return url
