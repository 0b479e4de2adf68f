from django.apps import AppConfig


class ImagesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "images"

    def ready(self) -> None:
        from . import checks, schema, signals  # noqa: F401  (registers checks and schema extension, connects receivers)
