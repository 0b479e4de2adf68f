"""The images app announces what happens to an image (images.events); this records it for the owner's webhooks."""

from django.dispatch import receiver

from images.events import image_event

from .services import image_event_record


@receiver(image_event)
def record_image_event(sender, event: str, image, **kwargs) -> None:
    """Inside the transaction of the change: the event commits with it, or neither does."""
    image_event_record(event, image)
