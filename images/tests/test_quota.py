"""Per-user quota: at the limit, over it on each path (proxied, signing, completion), and racing.

The races run real threads, each with its own database connection, through the real endpoints: on
PostgreSQL the owner's row lock decides (CI runs the suite there too); on SQLite the database's write lock.
"""

import io
import threading
from collections.abc import Callable

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.test import APIClient

from images.models import DirectUpload, Image
from images.quota import quota_usage
from images.tests.test_direct_uploads import complete_url, send, sign
from testutils import UPLOAD_URL, bearer, image_bytes, login, names_in_store

pytestmark = pytest.mark.django_db

# The quota counts originals, and direct uploads not yet completed at their declared size; never variants
# (docs/direct-uploads.md, "Per-user quota"), so whether a test makes them or not, the arithmetic of the limit is exact.

PNG = image_bytes("PNG", (40, 30))


def png(color: str = "red") -> SimpleUploadedFile:
    return SimpleUploadedFile("p.png", image_bytes("PNG", (40, 30), color=color), content_type="image/png")


def over_quota(response, usage: int, images: int, quota: int, size: int) -> None:
    """The answer is the quota's 409, naming the usage, the quota and the size."""
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert body["usage"] == {"bytes": usage, "images": images, "quota_bytes": quota}
    assert body["size"] == size
    assert "would exceed your storage quota" in body["detail"]


# --- Each path ----------------------------------------------------------------------------------------


def test_a_proxied_upload_may_fill_the_quota_exactly_but_not_pass_it(auth_client, settings, user):
    settings.IMAGE_USER_QUOTA_BYTES = 2 * len(PNG)

    assert auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart").status_code == 201
    assert auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart").status_code == 201  # at the limit
    files = names_in_store()
    response = auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart")

    over_quota(response, usage=2 * len(PNG), images=2, quota=2 * len(PNG), size=len(PNG))
    assert Image.objects.count() == 2 and names_in_store() == files


def test_signing_checks_the_declared_size_and_an_open_upload_holds_it(auth_client, settings, upload):
    upload(png())
    settings.IMAGE_USER_QUOTA_BYTES = len(PNG) + 1000

    assert sign(auth_client, size=1000).status_code == 201  # exactly the room left, now held by the upload
    response = sign(auth_client, size=1)

    over_quota(response, usage=len(PNG) + 1000, images=1, quota=len(PNG) + 1000, size=1)
    assert DirectUpload.objects.count() == 1
    proxied = auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart")
    over_quota(proxied, usage=len(PNG) + 1000, images=1, quota=len(PNG) + 1000, size=len(PNG))


@pytest.mark.parametrize("store", ["local", "s3"])
def test_completion_checks_the_real_size_and_the_upload_waits_for_room(request, store, auth_client, settings, upload):
    if store == "s3":
        request.getfixturevalue("s3_storage")
    first = upload(png())
    settings.IMAGE_USER_QUOTA_BYTES = 2 * len(PNG)
    signed = sign(auth_client, "a.png", size=len(PNG)).json()  # the room left, held by the upload
    assert send(signed, PNG, "a.png")[0] in (201, 204)
    settings.IMAGE_USER_QUOTA_BYTES = len(PNG) + 10  # staff lowered the quota meanwhile

    response = auth_client.post(complete_url(signed["id"]), format="json")

    # The upload's own reservation is not counted against it: its image would take its place.
    over_quota(response, usage=len(PNG), images=1, quota=len(PNG) + 10, size=len(PNG))
    assert Image.objects.count() == 1
    assert signed["fields"]["key"] in names_in_store()  # kept: complete again once there is room
    assert auth_client.delete(f"/api/images/{first['id']}/").status_code == 204
    assert auth_client.post(complete_url(signed["id"]), format="json").status_code == 201


@pytest.mark.parametrize("store", ["local", "s3"])
def test_the_store_takes_no_more_than_the_declared_size_which_the_quota_counts(request, store, auth_client):
    if store == "s3":
        request.getfixturevalue("s3_storage")
    signed = sign(auth_client, "a.png", size=len(PNG) - 1).json()  # declared one byte short

    status, text = send(signed, PNG, "a.png")

    assert status == 400 and ("EntityTooLarge" in text or "content-length-range" in text), text
    assert names_in_store() == set()


def test_a_users_own_quota_overrides_the_default(auth_client, user, settings):
    settings.IMAGE_USER_QUOTA_BYTES = 10
    user.quota_bytes = len(PNG)
    user.save()

    assert auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart").status_code == 201
    user.quota_bytes = 0  # nothing more for this user
    user.save()
    response = auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart")
    over_quota(response, usage=len(PNG), images=1, quota=0, size=len(PNG))

    settings.IMAGE_USER_QUOTA_BYTES = None
    assert sign(auth_client, size=1).status_code == 409  # the user's own still holds with no default


def test_no_quota_by_default(auth_client, settings):
    assert settings.IMAGE_USER_QUOTA_BYTES is None
    for _ in range(3):
        assert auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart").status_code == 201


def test_an_image_that_fills_the_quota_stays_within_it_once_its_variants_are_made(
    auth_client, user, settings, django_capture_on_commit_callbacks
):
    """Before, the variants of the image that filled the quota counted too: usage 428,826 of 400,000."""
    big = image_bytes("PNG", (1200, 900), color="purple")
    settings.IMAGE_USER_QUOTA_BYTES = len(big)
    with django_capture_on_commit_callbacks(execute=True):  # the variants, made inline after commit
        filling = SimpleUploadedFile("big.png", big, content_type="image/png")
        assert auth_client.post(UPLOAD_URL, {"image": filling}, format="multipart").status_code == 201

    image = Image.objects.get()
    variants = sum(default_storage.size(name) for name in image.variants.values())
    assert image.processing == "ready" and variants > 0 and image.variants_bytes == variants
    usage = auth_client.get("/api/auth/me/").json()["usage"]
    assert usage == {"bytes": len(big), "images": 1, "quota_bytes": len(big)}  # the original alone
    user.refresh_from_db()  # its running totals, as the upload's transaction left them
    assert quota_usage(user).bytes == image.size
    response = auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart")
    over_quota(response, usage=len(big), images=1, quota=len(big), size=len(PNG))


def test_the_admin_upload_is_held_to_the_quota(admin_client, user, settings):
    settings.IMAGE_USER_QUOTA_BYTES = 10

    response = admin_client.post("/admin/images/image/add/", {"user": user.pk, "image": png(), "title": "t"})

    assert response.status_code == 200
    assert "would exceed your storage quota" in response.content.decode()
    assert Image.objects.count() == 0


# --- Races for the last free bytes ----------------------------------------------------------------------


def race(calls: list[Callable[[], int]]) -> list[int]:
    """Run the calls at once, each in a thread of its own (with its own database connection); their results."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        except Exception as exc:  # shown in the assertion
            results[index] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_proxied_uploads_cannot_together_pass_the_last_free_bytes(user, settings):
    access = login(APIClient(), user.email)["access"]
    bearer(access).post(UPLOAD_URL, {"image": png()}, format="multipart")
    bearer(access).post(UPLOAD_URL, {"image": png()}, format="multipart")
    user.refresh_from_db()
    before = quota_usage(user).bytes  # two originals (their variants are not counted)
    settings.IMAGE_USER_QUOTA_BYTES = before + len(PNG)  # room left for one more original

    def upload() -> int:
        return bearer(access).post(UPLOAD_URL, {"image": png()}, format="multipart").status_code

    statuses = race([upload] * 6)

    assert sorted(statuses, key=str) == [201, 409, 409, 409, 409, 409], statuses
    assert Image.objects.count() == 3
    images = Image.objects.all()
    assert sum(image.size for image in images) == 3 * len(PNG)
    assert names_in_store() == {name for image in images for name in image.stored_names()}  # the refused: none


@pytest.mark.django_db(transaction=True)
def test_concurrent_signings_cannot_together_take_the_last_free_bytes(user, settings):
    access = login(APIClient(), user.email)["access"]
    settings.IMAGE_USER_QUOTA_BYTES = len(PNG)  # room for one upload

    def start(index: int) -> Callable[[], int]:
        return lambda: sign(bearer(access), f"{index}.png", len(PNG)).status_code

    statuses = race([start(index) for index in range(4)])

    assert sorted(statuses, key=str) == [201, 409, 409, 409], statuses
    assert DirectUpload.objects.get().size == len(PNG)
    user.refresh_from_db()
    assert quota_usage(user).bytes == len(PNG)  # held by the one open upload, and no more


@pytest.mark.django_db(transaction=True)
def test_the_same_upload_completed_at_once_from_two_clients_makes_one_image(user):
    access = login(APIClient(), user.email)["access"]
    signed = sign(bearer(access), "a.png", len(PNG)).json()
    send(signed, PNG, "a.png")

    def complete() -> tuple[int, int]:
        response = bearer(access).post(complete_url(signed["id"]), format="json")
        return response.status_code, response.json().get("id")

    results = race([complete, complete])

    assert Image.objects.count() == 1
    assert results == [(201, Image.objects.get().pk)] * 2, results


# --- The running totals on the user's row ------------------------------------------------------------------------


def totals(user) -> tuple[int, int]:
    user.refresh_from_db()
    return user.stored_bytes, user.stored_images


def test_the_running_totals_follow_uploads_direct_uploads_and_deletions(auth_client, user):
    first = auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart").json()
    second = auth_client.post(UPLOAD_URL, {"image": png("blue")}, format="multipart").json()
    sign(auth_client, size=500)  # an open direct upload holds its declared size
    assert totals(user) == (first["size"] + second["size"] + 500, 2)

    assert auth_client.delete(f"/api/images/{first['id']}/").status_code == 204
    DirectUpload.objects.all().delete()  # as the sweeper deletes abandoned ones

    assert totals(user) == (second["size"], 1)
    usage = auth_client.get("/api/auth/me/").json()["usage"]
    assert usage == {"bytes": second["size"], "images": 1, "quota_bytes": None}


def test_a_user_saved_from_an_earlier_read_keeps_the_totals_of_uploads_since(auth_client, user):
    stale = type(user).objects.get(pk=user.pk)  # read before the upload, saved after it (an admin form, say)
    auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart")

    stale.first_name = "Alice"
    stale.save()

    assert totals(user) == (len(PNG), 1)
    assert user.first_name == "Alice"


def test_recount_usage_mends_totals_changed_behind_the_services_back(auth_client, user):
    from django.core.management import call_command

    auth_client.post(UPLOAD_URL, {"image": png()}, format="multipart")
    type(user).objects.filter(pk=user.pk).update(stored_bytes=12345, stored_images=7)  # drifted (raw SQL, a restore)

    out = io.StringIO()
    call_command("recount_usage", stdout=out)

    assert out.getvalue() == "Corrected the totals of 1 user(s).\n"
    assert totals(user) == (len(PNG), 1)
