from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"

    def ready(self) -> None:
        from config.metrics import service_collector

        from . import metrics, receivers, tasks  # noqa: F401  (connects the receivers, registers the tasks)

        service_collector(metrics.webhook_metrics)  # /metrics: failing deliveries and endpoints
