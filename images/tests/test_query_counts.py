"""How many queries each common request makes: pinned, so that a change that adds one is seen.

Counted as Django runs them inside the test's transaction: a transaction of the request's own is a SAVEPOINT and
its RELEASE here (in production, BEGIN and COMMIT, which Django does not count as queries).
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from testutils import LIST_URL, UPLOAD_URL, detail_url, image_bytes

pytestmark = pytest.mark.django_db


def photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", image_bytes("JPEG", (64, 48)), content_type="image/jpeg")


def test_an_upload_makes_eight_queries(auth_client, django_assert_num_queries):
    auth_client.post(UPLOAD_URL, {"image": photo()}, format="multipart")  # a first one: nothing left to load

    # The user (authentication); the file recorded before it is written (a crash leaves nothing); SAVEPOINT; the
    # running total (the quota's check and count, one UPDATE); the row; the record dropped; RELEASE; the row's
    # processing read back for the answer, because without a broker the test client has the variants made before
    # it answers (a served request has them made after its answer, or queued, and does not read it back).
    with django_assert_num_queries(8):
        response = auth_client.post(UPLOAD_URL, {"image": photo()}, format="multipart")

    assert response.status_code == 201, response.content


def test_an_upload_under_a_quota_makes_the_same_queries(auth_client, settings, django_assert_num_queries):
    settings.IMAGE_USER_QUOTA_BYTES = 10**9

    with django_assert_num_queries(8):  # the quota is the condition of the running total's UPDATE: no sum
        response = auth_client.post(UPLOAD_URL, {"image": photo()}, format="multipart")

    assert response.status_code == 201, response.content


def test_an_upload_with_an_idempotency_key_makes_four_more(auth_client, django_assert_num_queries):
    auth_client.post(UPLOAD_URL, {"image": photo()}, format="multipart", HTTP_IDEMPOTENCY_KEY="first")

    # The key looked up (a repeat would answer from it); its row inserted in the image's transaction, in a savepoint
    # of its own (SAVEPOINT, INSERT, RELEASE). Expired rows of the key are looked for only when the key is taken.
    with django_assert_num_queries(8 + 4):
        response = auth_client.post(UPLOAD_URL, {"image": photo()}, format="multipart", HTTP_IDEMPOTENCY_KEY="second")

    assert response.status_code == 201, response.content


def test_a_list_of_20_makes_two_queries(auth_client, upload, django_assert_num_queries):
    for _ in range(20):
        upload(photo())

    with django_assert_num_queries(2):  # the user, the page with its owner
        response = auth_client.get(LIST_URL)

    assert response.status_code == 200 and len(response.json()) == 20


def test_a_detail_makes_two_queries(auth_client, upload, django_assert_num_queries):
    pk = upload(photo())["id"]

    with django_assert_num_queries(2):  # the user, the image with its owner
        response = auth_client.get(detail_url(pk))

    assert response.status_code == 200 and response.json()["id"] == pk


def test_the_account_makes_one_query(auth_client, upload, user, django_assert_num_queries):
    upload(photo())

    with django_assert_num_queries(1):  # the user, whose row holds the usage
        response = auth_client.get("/api/auth/me/")

    assert response.status_code == 200
    assert response.json()["usage"] == {"bytes": Image.objects.get().size, "images": 1, "quota_bytes": None}
