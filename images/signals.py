"""Keep storage in step with the database: a deleted row's files go too, however it was deleted."""

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db.models.signals import post_delete
from django.dispatch import receiver

from users.signals import account_deleting

from .files import files_delete_on_commit
from .models import DirectUpload, Image
from .quota import usage_release
from .services import image_files_delete_on_commit, user_images_store_check


@receiver(post_delete, sender=Image)
def delete_files_after_commit(sender, instance: Image, using: str, **kwargs) -> None:
    """A receiver rather than a service call: cascades (a user's deletion, the admin) delete rows too."""
    image_files_delete_on_commit(instance)


@receiver(post_delete, sender=Image)
def release_image_usage(sender, instance: Image, origin=None, **kwargs) -> None:
    """Its owner's stored totals, in the deleting transaction (none when the owner's own deletion cascades)."""
    if not isinstance(origin, get_user_model()):
        usage_release(instance.user_id, instance.size, image=True)


@receiver(post_delete, sender=DirectUpload)
def release_upload_usage(sender, instance: DirectUpload, origin=None, **kwargs) -> None:
    """An open upload's reservation (a completed one's bytes are its image's, released with the image)."""
    if instance.image_id is None and not isinstance(origin, get_user_model()):
        usage_release(instance.user_id, instance.size, image=False)


@receiver(account_deleting)
def check_store_before_account_deletion(sender, user, **kwargs) -> None:
    """Stop an account's deletion (the store's error: a 503) while its images' files cannot be removed."""
    user_images_store_check(user)


@receiver(post_delete, sender=DirectUpload)
def delete_upload_object_after_commit(sender, instance: DirectUpload, using: str, **kwargs) -> None:
    """A direct upload's key goes with its row (swept, refused, a user's deletion); after a completion the
    object has moved to its image's key, and this removes only what a later POST may have put back."""
    files_delete_on_commit(default_storage, [instance.key])
