"""End to end with the production shape: a real Redis broker and a real Celery worker process."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from testutils import image_bytes


@pytest.mark.django_db(transaction=True)
def test_a_worker_makes_the_variants_after_the_upload_returns(broker, upload, media_root, request):
    body = upload(SimpleUploadedFile("p.jpg", image_bytes("JPEG", size=(1200, 900)), content_type="image/jpeg"))

    # The upload returned at once; the task waits in Redis for a worker.
    assert body["processing"] == "pending"
    assert body["variants"] == {"thumbnail": None, "medium": None}

    log = request.getfixturevalue("worker")
    deadline = time.monotonic() + 60
    image = Image.objects.get(pk=body["id"])
    while image.processing == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
        image.refresh_from_db()

    assert image.processing == "ready", log.read_text()[-3000:]
    assert set(image.variants) == {"thumbnail", "medium"}
    assert all((media_root / key).is_file() for key in image.variants.values())
