"""Account mail, sent in the background (inline without a broker): a mail server outage never fails a request."""

from celery import shared_task

from .models import User
from .services import email_verification_mail_send, password_reset_mail_send


@shared_task(ignore_result=True)
def send_password_reset_mail(user_id: int) -> None:
    """Mail the user a password reset link (the token is made here, never queued)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        password_reset_mail_send(user)


@shared_task(ignore_result=True)
def send_email_verification_mail(user_id: int) -> None:
    """Mail the user a link that verifies the current address."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        email_verification_mail_send(user)
