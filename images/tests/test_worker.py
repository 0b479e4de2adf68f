"""End to end with the production shape: a real Redis broker and a real Celery worker process."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from testutils import image_bytes, log_tail, wait_until


@pytest.mark.django_db(transaction=True)
def test_a_worker_makes_the_variants_after_the_upload_returns(broker, upload, media_root, request):
    body = upload(SimpleUploadedFile("p.jpg", image_bytes("JPEG", size=(1200, 900)), content_type="image/jpeg"))

    # The upload returned at once; the task waits in Redis for a worker.
    assert body["processing"] == "pending"
    assert body["variants"] == {"thumbnail": None, "medium": None}

    log = request.getfixturevalue("worker")
    image = Image.objects.get(pk=body["id"])

    def processed() -> bool:
        image.refresh_from_db()
        return image.processing != "pending"

    wait_until(processed, "the worker's variants", timeout=60, log=log)
    assert image.processing == "ready", log_tail(log)
    assert set(image.variants) == {"thumbnail", "medium"}
    assert all((media_root / key).is_file() for key in image.variants.values())
