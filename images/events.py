"""What happens to an image, announced to the apps that build on images (which images must not import).

`image_event` is sent inside the transaction that makes the change, so that a receiver writing rows (the
webhooks app's outbox) commits or rolls back with it. A receiver that raises undoes the change.
"""

from django.dispatch import Signal

IMAGE_READY = "image.ready"  # its variants are made (processing "ready")
IMAGE_FAILED = "image.failed"  # its variants could not be made (processing "failed")
IMAGE_DELETED = "image.deleted"  # its row is being deleted (the image still has its id)
UPLOAD_COMPLETED = "upload.completed"  # a direct upload was verified and made this image
IMAGE_EVENTS = (IMAGE_READY, IMAGE_FAILED, IMAGE_DELETED, UPLOAD_COMPLETED)

# Sent with `event` (one of IMAGE_EVENTS) and `image`, its fields as the change left them.
image_event = Signal()


def image_event_send(event: str, image) -> None:
    """Announce `event` about `image`; call inside the transaction that makes the change."""
    image_event.send(sender=type(image), event=event, image=image)
