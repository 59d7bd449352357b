"""Builds the channel senders from settings: one sender per channel."""

from __future__ import annotations

from datetime import timedelta

import httpx

from schemas.commands import Channel, DispatchTouch
from services.notifier.channels.base import ChannelSender, SendResult
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender, SmtpSend
from services.notifier.channels.rep_reminders import (
    EmailReminderSender,
    SlackReminderSender,
    WebhookReminderSender,
)
from services.notifier.channels.slack import SlackBot
from services.notifier.channels.sms import SmsConfig, TwilioSmsSender
from services.notifier.render import RenderedMessage
from services.notifier.settings import NotifierSettings
from services.notifier.unsubscribe import UnsubscribeSigner


class RepReminderRouter:
    """Sends a rep reminder on the rep's preferred channel (``variables.rep_channel``, from
    CRM data), else the configured default."""

    def __init__(self, by_name: dict[str, ChannelSender], default: str) -> None:
        self._by_name = by_name
        self._default = default

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        wanted = str(touch.variables.get("rep_channel", self._default))
        sender = self._by_name.get(wanted) or self._by_name[self._default]
        return await sender.send(touch, message)


def smtp_config(settings: NotifierSettings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        use_tls=settings.smtp_use_tls,
        start_tls=settings.smtp_start_tls,
        validate_certs=settings.smtp_validate_certs,
    )


def build_senders(
    settings: NotifierSettings, http: httpx.AsyncClient, smtp_pool: SmtpSend | None = None
) -> dict[Channel, ChannelSender]:
    """``smtp_pool`` (a ``SmtpConnectionPool``) carries marketing email over reused connections;
    without it, each email opens its own connection."""
    smtp = smtp_config(settings)
    signer = UnsubscribeSigner(
        secret=settings.unsubscribe_secret.get_secret_value().encode(),
        base_url=settings.unsubscribe_base_url,
        ttl=timedelta(days=settings.unsubscribe_ttl_days),
    )
    sms = SmsConfig(
        base_url=settings.sms_base_url,
        account_sid=settings.sms_account_sid,
        auth_token=settings.sms_auth_token.get_secret_value(),
        sender=settings.sms_from,
        status_callback=settings.sms_status_callback,
        status_secret=settings.unsubscribe_secret.get_secret_value().encode(),
    )
    reps: dict[str, ChannelSender] = {"email": EmailReminderSender(smtp)}
    if settings.slack_webhook_url or settings.slack_bot_token:
        token = settings.slack_bot_token
        bot = (
            SlackBot(token.get_secret_value(), settings.slack_api_url, settings.slack_channel)
            if token
            else None
        )
        reps["slack"] = SlackReminderSender(settings.slack_webhook_url, http, bot)
    if settings.rep_webhook_url and settings.rep_webhook_secret:
        secret = settings.rep_webhook_secret.get_secret_value()
        reps["webhook"] = WebhookReminderSender(settings.rep_webhook_url, secret, http)
    router = RepReminderRouter(reps, settings.rep_reminder_via)
    return {
        Channel.EMAIL: SmtpEmailSender(smtp, signer, pool=smtp_pool),
        Channel.SMS: TwilioSmsSender(sms, http),
        Channel.REP_CALL_REMINDER: router,
        Channel.REP_EMAIL_REMINDER: router,
    }
