"""Compute each user's stored totals (bytes against the quota, images) again from the rows they count."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from images.quota import usage_recount


class Command(BaseCommand):
    help = (
        "Compute each user's stored bytes (originals and open direct uploads) and image count again from the rows, "
        "and correct the running totals the quota checks. The services keep them exact; this mends rows changed "
        "behind their back (raw SQL, a restore of one table). Safe to run at any time."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", type=int, action="append", help="Only this user id (repeatable).")

    def handle(self, *args, user: list[int] | None = None, **options) -> None:
        users = get_user_model()._default_manager.filter(pk__in=user) if user else None
        changed = usage_recount(users)
        self.stdout.write(f"Corrected the totals of {changed} user(s).")
