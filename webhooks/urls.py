from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("", views.WebhookEndpointListView.as_view(), name="list"),
    path("<int:pk>/", views.WebhookEndpointDetailView.as_view(), name="detail"),
    path("<int:pk>/rotate-secret/", views.WebhookRotateSecretView.as_view(), name="rotate-secret"),
    path("<int:pk>/test/", views.WebhookTestView.as_view(), name="test"),
    path("<int:pk>/deliveries/", views.WebhookDeliveryListView.as_view(), name="deliveries"),
    path(
        "<int:pk>/deliveries/<int:delivery_id>/redeliver/",
        views.WebhookRedeliverView.as_view(),
        name="redeliver",
    ),
]
