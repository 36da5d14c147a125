"""Campaign delivery and the retention policy as resources.

Each channel of the registry gets one provider: email goes to SendGrid with an API key, else the local
outbox; SMS to Twilio with an account, else the outbox; in-app notifications to the product's signed webhook,
else the outbox; team tasks always land in ``retention.tasks`` and also go to Slack (bot token and channel)
or a generic webhook. Secrets are read from the environment at run time and never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import duckdb

from churn_platform.lib.delivery.channels import (
    OutboxChannel,
    SlackTasks,
    TeamTaskChannel,
    TwilioChannel,
    WebhookChannel,
)
from churn_platform.lib.delivery.core import Channel
from churn_platform.lib.delivery.templates import MessageTemplates, load_templates
from churn_platform.lib.retention.delivery import OutboxSender, Sender, SendGridSender
from churn_platform.lib.retention.policy import RetentionPolicy, load_retention_policy
from churn_platform.profile import Contact, active_profile
from churn_platform.settings import get_settings


class DeliveryResource(dg.ConfigurableResource):
    """Where each channel's messages go (see the module doc). Keys and tokens are never shown."""

    outbox_dir: str
    events_dir: str | None = None
    templates_path: str | None = None
    sender_name: str = "Customer Success"
    sendgrid_api_key: str | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    from_email: str = "success@churn-platform.local"
    sandbox: bool = False
    task_webhook_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_base_url: str | None = None
    slack_bot_token: str | None = None
    slack_task_channel: str | None = None
    slack_base_url: str = "https://slack.com/api/"
    in_app_webhook_url: str | None = None
    in_app_signing_key: str | None = None
    receiver_url: str | None = None
    timeout_seconds: float = 10.0

    def sender(self) -> Sender:
        """The email provider (alerts email through it too)."""
        if self.sendgrid_api_key:
            return SendGridSender(
                self.sendgrid_api_key, self.sendgrid_host, self.from_email, self.timeout_seconds, self.sandbox
            )
        return OutboxSender(Path(self.outbox_dir), self.from_email)

    def channels(self, con: duckdb.DuckDBPyConnection) -> Mapping[str, Channel]:
        """Every registry channel with its provider; team tasks write to ``con``."""
        outbox = Path(self.outbox_dir)
        if self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number:
            callback = f"{self.receiver_url.rstrip('/')}/twilio/status" if self.receiver_url else None
            sms: Channel = TwilioChannel(
                self.twilio_account_sid, self.twilio_auth_token, self.twilio_from_number, self.twilio_base_url,
                callback, self.timeout_seconds,
            )  # fmt: skip
        else:
            sms = OutboxChannel("sms", outbox)
        in_app: Channel = (
            WebhookChannel("in_app", self.in_app_webhook_url, self.in_app_signing_key, self.timeout_seconds)
            if self.in_app_webhook_url
            else OutboxChannel("in_app", outbox)
        )
        if self.slack_bot_token and self.task_webhook_url:
            raise dg.Failure(
                "team tasks go to Slack or to a webhook: set CHURN_SLACK_BOT_TOKEN or CHURN_TASK_WEBHOOK_URL, not both"
            )
        forward: SlackTasks | WebhookChannel | None = None
        if self.slack_bot_token:
            if not self.slack_task_channel:
                raise dg.Failure("CHURN_SLACK_BOT_TOKEN is set without CHURN_SLACK_TASK_CHANNEL")
            forward = SlackTasks(
                self.slack_bot_token, self.slack_task_channel, self.slack_base_url, self.timeout_seconds
            )
        elif self.task_webhook_url:
            forward = WebhookChannel("team_task", self.task_webhook_url, timeout=self.timeout_seconds)
        email = self.sender()
        return {"email": email, "sms": sms, "in_app": in_app, "team_task": TeamTaskChannel(con, forward)}  # type: ignore[dict-item]

    def templates(self) -> MessageTemplates:
        return load_templates(Path(self.templates_path)) if self.templates_path else load_templates()

    def contact(self) -> Contact:
        return active_profile().contact

    @property
    def channel_name(self) -> str:
        names = ["email: " + ("sendgrid" if self.sendgrid_api_key else f"outbox {self.outbox_dir}")]
        names.append("sms: " + ("twilio" if self.twilio_account_sid else "outbox"))
        names.append("in_app: " + ("webhook" if self.in_app_webhook_url else "outbox"))
        names.append(
            "team_task: retention.tasks"
            + (" + slack" if self.slack_bot_token else " + webhook" if self.task_webhook_url else "")
        )
        return "; ".join(names)


class RetentionPolicyResource(dg.ConfigurableResource):
    path: str

    def load(self) -> RetentionPolicy:
        return load_retention_policy(Path(self.path))


def _secret(name: str, present: object) -> str | None:
    """The variable's name for Dagster to resolve at run time (the UI shows the name, never the value)."""
    return dg.EnvVar(name) if present else None


@dg.definitions
def resources() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        resources={
            "delivery": DeliveryResource(
                outbox_dir=str(settings.outbox),
                events_dir=str(settings.delivery_events),
                templates_path=str(settings.templates_path),
                sender_name=settings.sender_name,
                sendgrid_api_key=_secret("CHURN_SENDGRID_API_KEY", settings.sendgrid_api_key),
                sendgrid_host=settings.sendgrid_host,
                from_email=settings.sender_email,
                task_webhook_url=settings.task_webhook_url,
                twilio_account_sid=settings.twilio_account_sid,
                twilio_auth_token=_secret("CHURN_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                twilio_from_number=settings.twilio_from_number,
                twilio_base_url=settings.twilio_base_url,
                slack_bot_token=_secret("CHURN_SLACK_BOT_TOKEN", settings.slack_bot_token),
                slack_task_channel=settings.slack_task_channel,
                slack_base_url=settings.slack_base_url,
                in_app_webhook_url=_secret("CHURN_IN_APP_WEBHOOK_URL", settings.in_app_webhook_url),
                in_app_signing_key=_secret("CHURN_IN_APP_SIGNING_SECRET", settings.in_app_signing_secret),
                receiver_url=settings.receiver_url,
            ),
            "retention_policy": RetentionPolicyResource(path=str(settings.retention_policy_path)),
        }
    )
