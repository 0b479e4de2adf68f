from django.urls import path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from .views import SignupView

app_name = "users"

urlpatterns = [
    path("signup/", SignupView.as_view(), name="signup"),
    # Login takes "email" and "password" (USERNAME_FIELD is email; any letter case of the email works).
    path("login/", TokenObtainPairView.as_view(), name="login"),
    path("token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
]
