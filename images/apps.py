from django.apps import AppConfig


class ImagesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "images"

    def ready(self) -> None:
        from pillow_heif import register_heif_opener

        from config.metrics import service_collector

        # Registers the checks, the schema extension and the Celery tasks (the services send them by name), connects
        # the receivers.
        from . import checks, metrics, schema, signals, tasks  # noqa: F401

        service_collector(metrics.image_metrics)  # /metrics: images by state, the oldest pending, open direct uploads

        # HEIC/HEIF: Pillow opens it through pillow-heif's plugin. AVIF is Pillow 12's own
        # (features.check("avif") is True in its wheels), so pillow-heif's AVIF stays unused.
        register_heif_opener()
