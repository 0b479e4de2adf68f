"""Local files as private as S3 ones (signed, expiring URLs; the bare path refused), and
download names (Content-Disposition on the local signed URL and on the S3 presigned URL)."""

import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from testutils import detail_url, image_bytes, url_path

pytestmark = pytest.mark.django_db


def with_query(url: str, **changes: str) -> str:
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()} | changes
    return f"{url_path(url)}?{urlencode(query)}"


def test_a_signed_url_serves_the_file_with_debug_off_under_the_clients_filename(upload, client, settings):
    assert settings.DEBUG is False
    data = image_bytes("PNG", size=(20, 10))
    body = upload(SimpleUploadedFile("../My Holiday.png", data, content_type="image/png"))

    response = client.get(body["image"])

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="My_Holiday.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert body["original_filename"] == "My_Holiday.png"


def test_a_name_in_any_script_is_given_as_utf8(upload, client):
    body = upload(SimpleUploadedFile("Été à Kyōto.png", image_bytes(), content_type="image/png"))

    response = client.get(body["image"])

    assert response["Content-Disposition"] == "inline; filename*=utf-8''%C3%89t%C3%A9_%C3%A0_Ky%C5%8Dto.png"
    b"".join(response.streaming_content)


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "forged"},
        {"expires": "9999999999"},  # a later expiry than the one signed
        {"response-content-disposition": 'attachment; filename="evil.html"'},
    ],
    ids=["signature", "expiry", "download-name"],
)
def test_an_altered_url_is_refused(upload, client, change):
    body = upload()

    response = client.get(with_query(body["image"], **change))

    assert response.status_code == 403
    assert "Content-Disposition" not in response


def test_the_bare_path_and_an_expired_url_are_refused(upload, client):
    body = upload()
    name = Image.objects.get(pk=body["id"]).image.name

    assert client.get(url_path(body["image"])).status_code == 403
    assert client.get(default_storage.url(name, expire=-1)).status_code == 403
    served = client.get(default_storage.url(name, expire=60))
    assert served.status_code == 200
    b"".join(served.streaming_content)  # read to the end, which closes the file


def test_a_signature_opens_only_its_own_file(upload, client):
    first, second = upload(), upload()

    borrowed = f"{url_path(second['image'])}?{urlsplit(first['image']).query}"

    assert client.get(borrowed).status_code == 403


def test_urls_stay_the_same_within_a_window_so_browsers_reuse_what_they_fetched(upload, auth_client):
    body = upload()

    assert auth_client.get(detail_url(body["id"])).json()["image"] == body["image"]


def test_a_range_request_gets_that_part_of_the_file(upload, client):
    body = upload(SimpleUploadedFile("cat.png", image_bytes("PNG", size=(64, 48)), content_type="image/png"))
    url = body["image"]
    whole = client.get(url)
    data = b"".join(whole.streaming_content)
    size = len(data)
    assert whole["Accept-Ranges"] == "bytes" and size > 40

    def part(header: str, **headers):
        response = client.get(url, HTTP_RANGE=header, **headers)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, response.get("Content-Range"), content

    assert part("bytes=10-19") == (206, f"bytes 10-19/{size}", data[10:20])
    assert part("bytes=20-") == (206, f"bytes 20-{size - 1}/{size}", data[20:])
    assert part("bytes=-5") == (206, f"bytes {size - 5}-{size - 1}/{size}", data[-5:])
    assert part(f"bytes=30-{size * 2}") == (206, f"bytes 30-{size - 1}/{size}", data[30:])
    assert part(f"bytes={size}-") == (416, f"bytes */{size}", b"")
    # Several ranges, nonsense, or a file changed since the client's part: the whole file.
    assert part("bytes=0-1,5-6") == (200, None, data)
    assert part("bytes=9-3") == (200, None, data)
    assert part("lines=1-2") == (200, None, data)
    assert part("bytes=0-3", HTTP_IF_RANGE="Wed, 21 Oct 2015 07:28:00 GMT") == (200, None, data)
    assert part("bytes=0-3", HTTP_IF_RANGE=whole["Last-Modified"]) == (206, f"bytes 0-3/{size}", data[:4])
    response = client.get(url, HTTP_RANGE="bytes=0-3")
    assert (response["Content-Type"], response["Content-Length"]) == ("image/png", "4")
    assert response["Content-Disposition"] == 'inline; filename="cat.png"'
    assert client.get(url_path(url), HTTP_RANGE="bytes=0-3").status_code == 403  # still signed URLs only


def test_behind_nginx_django_checks_the_signature_and_nginx_sends_the_file(upload, client, settings):
    settings.MEDIA_X_ACCEL_REDIRECT = "/protected-media/"
    body = upload(SimpleUploadedFile("cat.png", image_bytes(), content_type="image/png"))

    response = client.get(body["image"])

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/protected-media" + url_path(body["image"]).removeprefix("/media")
    assert response["Content-Disposition"] == 'inline; filename="cat.png"'
    assert response.content == b""
    assert client.get(url_path(body["image"])).status_code == 403


def test_with_s3_the_presigned_url_names_the_download_and_its_type(s3_storage, upload, auth_client):
    data = image_bytes("JPEG", size=(20, 10))
    body = upload(SimpleUploadedFile("IMG_0001.JPG", data, content_type="image/jpeg"))
    detail = auth_client.get(detail_url(body["id"])).json()

    with urllib.request.urlopen(detail["image_url"], timeout=10) as response:
        assert response.read() == data
        assert response.headers["Content-Disposition"] == 'inline; filename="IMG_0001.jpg"'
        assert response.headers["Content-Type"] == "image/jpeg"
    assert parse_qs(urlsplit(detail["image_url"]).query)["response-content-type"] == ["image/jpeg"]
    assert detail["image"] == body["image"]  # the presigned URL is reused (cached) with its parameters
    with pytest.raises(urllib.error.HTTPError) as refused:  # the name is signed too
        urllib.request.urlopen(body["image"].replace("IMG_0001", "evil"), timeout=10)
    assert refused.value.code == 403
    refused.value.close()
