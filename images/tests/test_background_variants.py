"""The embedded default (no broker): an upload answers at once, its variants are made after the answer by the API
process, and those of a process that died first are made by the sweeper."""

import threading
from io import BytesIO

import pytest
import requests
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from rest_framework.test import APIClient

from config.background import AfterResponse, in_background
from images.models import Image
from images.sweep import images_sweep
from testutils import (
    PASSWORD,
    UPLOAD_URL,
    account_over_http,
    detail_url,
    free_port,
    image_bytes,
    kill,
    log_tail,
    login,
    served_env,
    signup,
    start_gunicorn,
    wait_for_http,
    wait_until,
)


def test_a_served_upload_answers_pending_and_its_variants_are_made_after_the_answer(database_url, tmp_path):
    """gunicorn as shipped, no broker: the 201 says pending; the same process then makes the variants."""
    port, log = free_port(), tmp_path / "gunicorn.log"
    env = served_env(database_url, tmp_path / "media")
    server = start_gunicorn(port, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/", server, log)
        access = account_over_http(base, "bg@example.com", "bg")
        headers = {"Authorization": f"Bearer {access}"}
        files = {"image": ("photo.jpg", image_bytes("JPEG", (1200, 900)), "image/jpeg")}

        answer = requests.post(base + UPLOAD_URL, files=files, headers=headers, timeout=10)

        assert answer.status_code == 201, answer.text
        assert answer.json()["processing"] == "pending"
        assert answer.json()["variants"] == {"thumbnail": None, "medium": None}

        def ready() -> dict:
            shown = requests.get(base + detail_url(answer.json()["id"]), headers=headers, timeout=10).json()
            return shown if shown["processing"] == "ready" else {}

        wait_until(ready, "the variants made by the API process", timeout=30)
        assert ready()["variants"]["thumbnail"]["width"] == 256
    finally:
        if server.poll() is None:
            kill(server)
    assert "Traceback" not in log.read_text(), log_tail(log, 4000)


@pytest.mark.django_db(transaction=True)
def test_an_image_whose_process_died_before_its_variants_is_made_by_the_sweeper(settings, media_root):
    """A served upload whose process dies once it has answered (its response body never closed): pending, then
    made by the next sweep."""
    settings.IMAGE_VARIANTS_IN_BACKGROUND = True
    assert signup(APIClient(), "d@example.com", "died").status_code == 201
    access = login(APIClient(), "d@example.com", PASSWORD)["access"]
    file = BytesIO(image_bytes("JPEG", (600, 400)))
    file.name = "photo.jpg"
    request = RequestFactory().post(UPLOAD_URL, {"image": file}, HTTP_AUTHORIZATION=f"Bearer {access}")
    statuses = []

    body = AfterResponse(WSGIHandler())(request.environ, lambda status, headers: statuses.append(status))
    answer = b"".join(body)  # answered; the process "dies" here: body.close() never runs, nor what it defers

    assert statuses == ["201 Created"], answer
    image = Image.objects.get()
    assert (image.processing, image.variants, image.processing_queued_at) == ("pending", {}, None)

    result = images_sweep()

    image.refresh_from_db()
    assert result["lost_requeued"] == 1
    assert image.processing == "ready" and set(image.variants) == {"thumbnail", "medium"}
    assert all((media_root / name).is_file() for name in image.variants.values())


def test_the_background_queue_is_bounded(settings):
    """Past BACKGROUND_QUEUE_SIZE waiting calls, in_background refuses (the caller leaves the work to a sweeper)."""
    settings.BACKGROUND_QUEUE_SIZE = 2
    started, release, ran = threading.Event(), threading.Event(), []

    def hold() -> None:
        started.set()
        release.wait(10)

    def served(*calls) -> list[bool]:
        accepted = []

        def app(environ, start_response):
            accepted.extend(in_background(*call) for call in calls)
            start_response("200 OK", [])
            return [b""]

        body = AfterResponse(app)({}, lambda status, headers: None)
        getattr(body, "close", lambda: None)()  # answered: the calls go to the thread
        return accepted

    assert served((hold,)) == [True]
    started.wait(10)  # the thread is busy with it
    assert served((ran.append, 1), (ran.append, 2)) == [True, True]  # two wait
    assert served((ran.append, 3)) == [False]  # no room: refused, never run

    release.set()
    wait_until(lambda: ran == [1, 2], "the accepted calls, in order, on the background thread")
