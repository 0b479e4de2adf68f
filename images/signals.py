"""Keep storage in step with the database, and start background work once a row is committed."""
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Image


@receiver(post_save, sender=Image)
def make_variants_after_commit(sender, instance: Image, created: bool, using: str, **kwargs) -> None:
    """Queue the variants of a new image once its row commits (a worker must be able to read it)."""
    if created:
        from .tasks import make_variants

        # robust: a broker that cannot be reached is logged, and the upload still succeeds (pending).
        transaction.on_commit(lambda: make_variants.delay(instance.pk), using=using, robust=True)


@receiver(post_delete, sender=Image)
def delete_files_after_commit(sender, instance: Image, using: str, **kwargs) -> None:
    """Remove the original and its variants after the deleting transaction commits (never if it rolls back)."""
    names = instance.stored_names()
    if names:
        storage = instance.image.storage

        def delete_files() -> None:
            for name in names:
                storage.delete(name)

        # robust: a storage failure here is logged (with the key) and never fails the committed deletion.
        transaction.on_commit(delete_files, using=using, robust=True)
