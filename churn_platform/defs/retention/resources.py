"""Campaign delivery and the retention policy as resources (the outbox by default, SendGrid with a key)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from churn_platform.lib.retention.delivery import OutboxSender, Sender, SendGridSender
from churn_platform.lib.retention.policy import RetentionPolicy, load_retention_policy
from churn_platform.settings import get_settings


class DeliveryResource(dg.ConfigurableResource):
    """Where campaign email goes: SendGrid when an API key is set, else the local outbox. The key is never shown."""

    outbox_dir: str
    sendgrid_api_key: str | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    from_email: str = "success@churn-platform.local"
    sandbox: bool = False
    task_webhook_url: str | None = None

    def sender(self) -> Sender:
        if self.sendgrid_api_key:
            return SendGridSender(
                self.sendgrid_api_key, self.sendgrid_host, self.from_email, sandbox=self.sandbox
            )
        return OutboxSender(Path(self.outbox_dir), self.from_email)

    @property
    def channel_name(self) -> str:
        return "sendgrid" if self.sendgrid_api_key else f"outbox {self.outbox_dir}"


class RetentionPolicyResource(dg.ConfigurableResource):
    path: str

    def load(self) -> RetentionPolicy:
        return load_retention_policy(Path(self.path))


@dg.definitions
def resources() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        resources={
            "delivery": DeliveryResource(
                outbox_dir=str(settings.outbox),
                # from the environment at run time: the Dagster UI shows the variable's name, never the key
                sendgrid_api_key=dg.EnvVar("CHURN_SENDGRID_API_KEY") if settings.sendgrid_api_key else None,
                sendgrid_host=settings.sendgrid_host,
                from_email=settings.sender_email,
                task_webhook_url=settings.task_webhook_url,
            ),
            "retention_policy": RetentionPolicyResource(path=str(settings.retention_policy_path)),
        }
    )
