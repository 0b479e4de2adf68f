from django.urls import path

from . import views

app_name = "images"

urlpatterns = [
    path("", views.ImageListView.as_view(), name="list"),
    path("upload/", views.ImageUploadView.as_view(), name="upload"),
    path("<int:pk>/", views.ImageDetailView.as_view(), name="detail"),
    path("<int:pk>/delete/", views.ImageDeleteView.as_view(), name="delete"),
    path("uploads/", views.DirectUploadView.as_view(), name="direct-upload"),
    path("uploads/local/", views.LocalDirectUploadView.as_view(), name="direct-upload-local"),
    path("uploads/local/<path:key>", views.LocalDirectUploadPutView.as_view(), name="direct-upload-local-put"),
    path("uploads/<uuid:pk>/complete/", views.DirectUploadCompleteView.as_view(), name="direct-upload-complete"),
]
