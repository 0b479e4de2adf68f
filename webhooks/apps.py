from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"

    def ready(self) -> None:
        from config.metrics import service_collector

        from . import metrics, receivers  # noqa: F401  (connects the receivers)

        service_collector(metrics.webhook_metrics)  # /metrics: failing deliveries and endpoints
