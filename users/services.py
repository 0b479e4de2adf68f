"""Account operations with more than one way in: tokens and sessions, passwords, email verification, deletion."""

import hashlib
import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.module_loading import import_string
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from config.background import after_response
from config.celery import app as celery_app
from config.throttling import within_rates

from .models import User
from .signals import account_deleting
from .tokens import SESSION_CLAIM, SessionRefreshToken, SessionRefused, session_check, session_tokens

logger = logging.getLogger(__name__)

EMAIL_VERIFY_SALT = "users.email-verification"


# --- Tokens and sessions ------------------------------------------------------------------------


def token_pair_for(user: User) -> dict[str, str]:
    """Start a new session for the user and return its refresh/access pair."""
    refresh = SessionRefreshToken.for_user(user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


def refresh_tokens_blacklist(user_id: int, session_id: str | None = None) -> int:
    """Blacklist the user's live refresh tokens (of one session, or of all), in one insert; return how many.

    Already blacklisted ones stay as they are.
    """
    token_ids = session_tokens(user_id, session_id)
    # The bulk form of BlacklistedToken.objects.get_or_create(token=...): the one-to-one column is unique,
    # so a token blacklisted meanwhile (a concurrent logout) is skipped, not an error.
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=token_id) for token_id in token_ids], ignore_conflicts=True
    )
    return len(token_ids)


def session_refresh(raw_refresh: str) -> dict[str, str]:
    """Rotate a refresh token: blacklist it and answer a new refresh/access pair of the same session.

    Refused (401) when the token is invalid, expired or blacklisted, when its user is gone or inactive,
    and when its session has ended (password changed, logged out everywhere, past JWT_SESSION_MAX_DAYS).
    A blacklisted token presented again ends its whole session: one of its two holders is a thief.
    """
    try:
        # simplejwt types a token's argument as a Token; it takes the encoded token, a str.
        refresh = SessionRefreshToken(raw_refresh)  # type: ignore[arg-type]
    except TokenError:
        session_revoke_if_replayed(raw_refresh)
        raise
    user = User.objects.filter(pk=refresh.get(api_settings.USER_ID_CLAIM)).first()
    if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
        raise SessionRefused("No active account found for the given token.", "no_active_account")
    session_check(refresh, user)
    first_use: bool
    with transaction.atomic():
        # simplejwt says blacklist() returns the row; it returns get_or_create's (row, created).
        _, first_use = refresh.blacklist()  # type: ignore[misc]
        if first_use:
            refresh.set_jti()
            refresh.set_exp()  # REFRESH_TOKEN_LIFETIME from now, but never past the session's end
            refresh.set_iat()
            refresh.outstand()
    if not first_use:  # another request rotated this very token a moment ago: a replay too
        session_revoke_if_replayed(raw_refresh)
        raise TokenError("Token is blacklisted")
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def session_revoke_if_replayed(raw_refresh: str) -> None:
    """If this genuine, unexpired refresh token is blacklisted, end its session (every live token), and log it."""
    try:
        payload = token_backend.decode(raw_refresh, verify=True)  # type: ignore[arg-type]  # a str, as above
    except TokenBackendError:
        return  # forged, malformed or expired: no session to end
    if payload.get(api_settings.TOKEN_TYPE_CLAIM) != SessionRefreshToken.token_type:
        return
    if not BlacklistedToken.objects.filter(token__jti=payload.get(api_settings.JTI_CLAIM)).exists():
        return
    user_id, session_id = payload.get(api_settings.USER_ID_CLAIM), payload.get(SESSION_CLAIM)
    if user_id is None:  # no user: no session to end
        return
    revoked = refresh_tokens_blacklist(user_id, session_id)
    logger.warning(
        "Refresh token replayed: user %s, session %s, token %s; %d live refresh token(s) of the session revoked.",
        user_id,
        session_id or "(all)",
        payload.get(api_settings.JTI_CLAIM),
        revoked,
    )


def sessions_end(user: User) -> None:
    """Log the user out everywhere: every refresh token blacklisted, every access token refused from now on."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
        refresh_tokens_blacklist(user.pk)
    user.refresh_from_db(fields=["token_generation"])


# --- Passwords ----------------------------------------------------------------------------------


def password_change(user: User, new_password: str) -> None:
    """Set a new (already validated) password and end every session the old one opened."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        # Access tokens die with the old password hash (SIMPLE_JWT CHECK_REVOKE_TOKEN); refresh tokens here.
        refresh_tokens_blacklist(user.pk)


def password_reset_request(email: str) -> None:
    """Hand the reset mail of this address to the background, whether or not it has an account; say nothing.

    The request does the same work either way, and never looks the address up: the task does
    (password_reset_mail), after the answer has gone, so its timing cannot tell whether the account exists.
    """
    _mail_later("send_password_reset_mail", email)


def password_reset_mail(email: str) -> bool:
    """Mail a reset link if an active account with a password has this email, within PASSWORD_RESET_MAIL_RATES.

    Returns whether a mail was sent. The limit is per address, whoever asked: the request's own throttle is
    per client address, so many clients could otherwise flood one mailbox.
    """
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    address = user.email.lower()
    digest = hashlib.sha256(address.encode()).hexdigest()  # no address in the cache's keys
    if not within_rates(f"password-reset-mail:{digest}", settings.PASSWORD_RESET_MAIL_RATES):
        logger.info("Password reset mail to user %s not sent: over PASSWORD_RESET_MAIL_RATES.", user.pk)
        return False
    password_reset_mail_send(user)
    return True


def password_reset_user(uid: str, token: str) -> User | None:
    """The user a reset link names, if its token is still good (unused, unexpired); else None."""
    try:
        user = User.objects.filter(pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True).first()
    except (ValueError, OverflowError):
        return None
    return user if user is not None and default_token_generator.check_token(user, token) else None


def password_reset_confirm(user: User, new_password: str) -> None:
    """Set the new password from a reset link: the link stops working, every session ends."""
    with transaction.atomic():
        password_change(user, new_password)  # the token hashes the password: it cannot be used again
        # The link reached the mailbox: the address is proven too.
        User.objects.filter(pk=user.pk).update(email_verified=True)
    user.email_verified = True


def password_reset_mail_send(user: User) -> None:
    """Mail the user a link to the client app's reset form, built from PASSWORD_RESET_URL."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    url = settings.PASSWORD_RESET_URL.format(uid=uid, token=default_token_generator.make_token(user))
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    _mail(user, "password_reset", {"url": url, "minutes": minutes})


# --- Email verification -------------------------------------------------------------------------


def email_verification_request(user: User) -> None:
    """Mail the user a link that verifies the current email address (after the transaction commits and the
    answer has gone)."""
    _mail_later("send_email_verification_mail", user.pk)


def email_verification_mail_send(user: User) -> None:
    """Mail the user a link to verify the address, built from EMAIL_VERIFY_URL."""
    token = signing.dumps(
        {"user": user.pk, "email": user.email.lower(), "gen": user.email_generation}, salt=EMAIL_VERIFY_SALT
    )
    url = settings.EMAIL_VERIFY_URL.format(token=token)
    _mail(user, "email_verify", {"url": url, "hours": settings.EMAIL_VERIFY_TIMEOUT // 3600})


def email_verification_user(token: str) -> User | None:
    """The user whose current address a verification token names; None if the token is bad, expired or stale."""
    try:
        data = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=settings.EMAIL_VERIFY_TIMEOUT)
        user = User.objects.filter(pk=data["user"], is_active=True).first()
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    # The token names the address it was sent to, and the email's generation then: once the email changes,
    # older links stop working, even if it changes back to their address.
    if user is None or user.email.lower() != data["email"] or data.get("gen", 0) != user.email_generation:
        return None
    return user


def email_verified_set(user: User) -> None:
    """Record that the user's current address is verified."""
    if not user.email_verified:
        user.email_verified = True
        user.save(update_fields=["email_verified"])


# --- Account deletion ---------------------------------------------------------------------------


def account_delete(user: User) -> None:
    """Delete the account and everything it owns; receivers of `account_deleting` may stop it by raising."""
    with transaction.atomic():
        account_deleting.send(sender=User, user=user)
        user.delete()  # cascades to the user's images, whose files go once this commits


# --- Mail ---------------------------------------------------------------------------------------


def _mail_later(task_name: str, *args) -> None:
    """Queue a mail task once the transaction commits, after the answer has been sent (config.background).

    Queued to the broker, or run inline without one: either way the client does not wait for it, neither
    for the mail server nor for the broker. A failure is logged; the request that asked still stands.
    """
    # By name, as Celery allows: the task module wraps this one (the app's ready() registers it).
    task = celery_app.signature(f"users.tasks.{task_name}", args=args)
    transaction.on_commit(lambda: after_response(task.delay), robust=True)


def _mail(user: User, template: str, context: dict) -> None:
    context = {"user": user, **context}
    subject = render_to_string(f"users/email/{template}_subject.txt", context).strip()
    body = render_to_string(f"users/email/{template}.txt", context)
    send_mail(subject, body, None, [user.email])


def usage_backend():
    """The hook that says what a user stores (settings.USER_USAGE_BACKEND), or None when none is set.

    A setting rather than an import: the images app depends on users, never the other way round.
    """
    path = getattr(settings, "USER_USAGE_BACKEND", None)
    return import_string(path)() if path else None


def user_usage(user: User) -> dict | None:
    """{"bytes", "images", "quota_bytes"} of the user, from the usage hook."""
    backend = usage_backend()
    return backend.usage(user) if backend else None


def users_with_usage(users: QuerySet) -> QuerySet:
    """The users with `usage_bytes` and `usage_images` annotated, when a usage hook is set."""
    backend = usage_backend()
    return backend.annotate(users) if backend else users
