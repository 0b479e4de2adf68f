"""Keep storage in step with the database: a deleted row's file goes once the deletion commits."""
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Image


@receiver(post_delete, sender=Image)
def delete_file_after_commit(sender, instance: Image, using: str, **kwargs) -> None:
    """Remove the stored file after the deleting transaction commits (never if it rolls back)."""
    if instance.image:
        storage, name = instance.image.storage, instance.image.name
        # robust: a storage failure here is logged (with the key) and never fails the committed deletion.
        transaction.on_commit(lambda: storage.delete(name), using=using, robust=True)
