from django.apps import AppConfig


class UsersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "users"

    def ready(self) -> None:
        from . import schema, tasks  # noqa: F401  (registers the OpenAPI extension and the mail tasks)
