"""The owners' running totals (users.User.stored_bytes, stored_images) from the rows they count."""

from django.db import migrations
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce


def count(apps, schema_editor) -> None:
    User = apps.get_model("users", "User")
    Image = apps.get_model("images", "Image")
    DirectUpload = apps.get_model("images", "DirectUpload")
    images = Image.objects.filter(user=OuterRef("pk")).order_by().values("user")
    uploads = DirectUpload.objects.filter(user=OuterRef("pk"), image=None).order_by().values("user")
    User.objects.update(
        stored_bytes=Coalesce(Subquery(images.annotate(total=Sum("size")).values("total")), 0)
        + Coalesce(Subquery(uploads.annotate(total=Sum("size")).values("total")), 0),
        stored_images=Coalesce(Subquery(images.annotate(n=Count("pk")).values("n")), 0),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("images", "0008_crash_safe_files_and_lost_jobs"),
        ("users", "0006_stored_usage_counters"),
    ]

    operations = [migrations.RunPython(count, migrations.RunPython.noop)]
