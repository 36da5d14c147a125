"""Where monitoring writes its reports, and the addresses the links in them point to."""

from pathlib import Path

import dagster as dg

from churn_platform.lib.monitoring import MonitoringPlaces
from churn_platform.settings import get_settings


class MonitoringResource(dg.ConfigurableResource):
    """HTML reports folder, the Evidently workspace, and the UI addresses used in links."""

    reports_dir: str
    workspace_dir: str
    evidently_ui_url: str = "http://127.0.0.1:8000"
    mlflow_ui_url: str = "http://127.0.0.1:5000"

    def places(self) -> MonitoringPlaces:
        return MonitoringPlaces(Path(self.reports_dir), Path(self.workspace_dir), self.evidently_ui_url)


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go. The webhook URL is a secret: it is configured from the environment (the Dagster UI shows
    the variable's name, never its value)."""

    webhook_url: str | None = None
    emails: str = ""

    def recipients(self) -> list[str]:
        return [a.strip() for a in self.emails.split(",") if a.strip()]


@dg.definitions
def resources() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        resources={
            "monitoring": MonitoringResource(
                reports_dir=str(settings.reports),
                workspace_dir=str(settings.evidently_workspace),
                evidently_ui_url=settings.url(settings.evidently_port),
                mlflow_ui_url=settings.url(settings.mlflow_port),
            ),
            "alerting": AlertsResource(
                webhook_url=dg.EnvVar("CHURN_ALERT_WEBHOOK_URL") if settings.alert_webhook_url else None,
                emails=settings.alert_emails,
            ),
        }
    )
