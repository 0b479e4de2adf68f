"""Account mail, sent in the background (without a broker, inline once the answer has gone: users.services):
a mail server outage never fails a request, nor slows it."""

from celery import shared_task

from .models import User
from .services import email_verification_mail_send, password_reset_mail


@shared_task(ignore_result=True)
def send_password_reset_mail(email: str) -> None:
    """Mail a password reset link to the account of this address, if there is one (the token is made here,
    never queued); queued for every address asked about, so that the request's timing tells nothing."""
    password_reset_mail(email)


@shared_task(ignore_result=True)
def send_email_verification_mail(user_id: int) -> None:
    """Mail the user a link that verifies the current address."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        email_verification_mail_send(user)
