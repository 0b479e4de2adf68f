"""Signals the users app sends for the apps that build on it (which it must not import)."""

from django.dispatch import Signal

# Sent with `user` before an account is deleted through the API, inside the deleting transaction.
# A receiver raises to stop the deletion (images: the file store must be reachable to remove the files).
account_deleting = Signal()
