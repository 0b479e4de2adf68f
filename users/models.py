"""A user who logs in with an email address."""

from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

# The one source of these messages: the database constraints and the API's checks both use them.
EMAIL_TAKEN = "A user with this email already exists."
USERNAME_TAKEN = "A user with that username already exists."


class EmailUserManager(UserManager["User"]):
    """Find users by their email address, whatever its letter case.

    Users are made with Django's own `create_user(email=..., username=..., password=...)` (and `create_superuser`):
    keywords, as `createsuperuser` passes them.
    """

    def get_by_natural_key(self, email: str | None) -> "User":
        if email is None:  # as Django's own lookup of a None username: nobody
            raise self.model.DoesNotExist
        # LOWER(email) matches the functional unique index below, so login stays an index lookup.
        return self.alias(email_lower=Lower("email")).get(email_lower=email.lower())


class User(AbstractUser):
    """The account that owns images; email is the login, unique ignoring case."""

    email = models.EmailField("email address", unique=True)
    email_verified = models.BooleanField(
        default=False, help_text="Whether the owner has opened the verification link mailed to this address."
    )
    # Moved on by "log out everywhere": tokens of an older generation are refused (users.tokens).
    token_generation = models.PositiveIntegerField(default=0, editable=False)
    # Moved on by each change of the email: a verification link names the generation it was mailed in, so a
    # link to an earlier address stays dead when the email is changed back to it (users.services).
    email_generation = models.PositiveIntegerField(default=0, editable=False)
    # Set by staff in the admin; empty: the default, IMAGE_USER_QUOTA_BYTES.
    quota_bytes = models.PositiveBigIntegerField(
        "storage quota (bytes)",
        null=True,
        blank=True,
        help_text="Bytes this user may store: originals, and direct uploads not yet completed at their declared "
        "size (variants are not counted); overrides the default. Empty: the default.",
    )
    # What the user stores, kept by the usage hook (settings.USER_USAGE_BACKEND) in the transaction of each change,
    # so that the quota's check is one conditional UPDATE of this row, not a sum: bytes counted against the quota,
    # and how many images. `manage.py recount_usage` computes them again from the rows.
    stored_bytes = models.BigIntegerField(default=0, editable=False)
    stored_images = models.IntegerField(default=0, editable=False)
    RUNNING_TOTALS = ("stored_bytes", "stored_images")

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["username"]

    objects: ClassVar[EmailUserManager] = EmailUserManager()

    def save(self, *args, **kwargs) -> None:
        """Save the user; an existing row keeps its running totals (only their own UPDATEs change them: a user read
        before an upload committed must not write back the totals it read)."""
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in self.RUNNING_TOTALS
            ]
        super().save(*args, **kwargs)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="users_user_email_ci_unique",
                violation_error_message=EMAIL_TAKEN,
            ),
            models.UniqueConstraint(
                Lower("username"),
                name="users_user_username_ci_unique",
                violation_error_message=USERNAME_TAKEN,
            ),
        ]

    def __str__(self) -> str:
        return self.email
