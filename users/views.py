"""Account endpoints: signup here; login and refresh are SimpleJWT's own views (see urls.py)."""
from rest_framework import generics
from rest_framework.permissions import AllowAny

from .serializers import SignupSerializer


class SignupView(generics.CreateAPIView):
    """POST /api/auth/signup/: create an account and answer with the user and a token pair."""

    serializer_class = SignupSerializer
    permission_classes = [AllowAny]
    authentication_classes = []
