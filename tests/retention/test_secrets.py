"""API keys and webhook URLs reach the code that uses them from the environment, and nothing else: the
Dagster definitions (shown in the UI's resource pages) hold only the variable's name."""

from __future__ import annotations

import dagster as dg
import pytest

from churn_platform.definitions import defs


def test_sendgrid_key_and_alert_webhook_are_resolved_at_run_time_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHURN_SENDGRID_API_KEY", "SG.secret-key")
    monkeypatch.setenv("CHURN_ALERT_WEBHOOK_URL", "https://hooks.example/services/T0/B0/secret-token")
    monkeypatch.setenv("CHURN_TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("CHURN_TWILIO_AUTH_TOKEN", "secret-twilio-token")
    monkeypatch.setenv("CHURN_TWILIO_FROM_NUMBER", "+15550000000")
    monkeypatch.setenv("CHURN_SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("CHURN_SLACK_TASK_CHANNEL", "C0TASKS")
    monkeypatch.setenv("CHURN_IN_APP_SIGNING_SECRET", "secret-signing")
    monkeypatch.setenv("CHURN_IN_APP_WEBHOOK_URL", "https://product.example/hooks/secret-path")
    loaded = defs()
    delivery, alerting = loaded.resources["delivery"], loaded.resources["alerting"]
    for resource in (delivery, alerting):
        shown = repr(resource) + str(resource.model_dump())  # type: ignore[union-attr]
        assert "secret" not in shown
    assert delivery.sendgrid_api_key == "CHURN_SENDGRID_API_KEY"  # type: ignore[union-attr]
    with dg.build_resources({"delivery": delivery, "alerting": alerting}) as built:
        sender = built.delivery.sender()
        assert type(sender).__name__ == "SendGridSender"
        assert sender._client.api_key == "SG.secret-key"
        assert built.alerting.webhook_url.endswith("/secret-token")
        assert built.delivery.twilio_auth_token == "secret-twilio-token"
        assert built.delivery.slack_bot_token == "xoxb-secret"
        assert built.delivery.in_app_signing_key == "secret-signing"


def test_without_a_key_campaigns_go_to_the_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHURN_SENDGRID_API_KEY", raising=False)
    loaded = defs()
    with dg.build_resources({"delivery": loaded.resources["delivery"]}) as built:
        assert type(built.delivery.sender()).__name__ == "OutboxSender"
