"""Keep storage in step with the database: a deleted row's files go too, however it was deleted."""

from django.core.files.storage import default_storage
from django.db.models.signals import post_delete
from django.dispatch import receiver

from users.signals import account_deleting

from .models import DirectUpload, Image
from .services import files_delete_on_commit, image_files_delete_on_commit, user_images_store_check


@receiver(post_delete, sender=Image)
def delete_files_after_commit(sender, instance: Image, using: str, **kwargs) -> None:
    """A receiver rather than a service call: cascades (a user's deletion, the admin) delete rows too."""
    image_files_delete_on_commit(instance)


@receiver(account_deleting)
def check_store_before_account_deletion(sender, user, **kwargs) -> None:
    """Stop an account's deletion (the store's error: a 503) while its images' files cannot be removed."""
    user_images_store_check(user)


@receiver(post_delete, sender=DirectUpload)
def delete_upload_object_after_commit(sender, instance: DirectUpload, using: str, **kwargs) -> None:
    """A direct upload's key goes with its row (swept, refused, a user's deletion); after a completion the
    object has moved to its image's key, and this removes only what a later POST may have put back."""
    files_delete_on_commit(default_storage, [instance.key])
