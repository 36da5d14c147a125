"""Typed platform settings: every location and switch, from ``CHURN_*`` environment variables.

The defaults give the embedded, single-laptop deployment: everything under ``data/`` in the project folder.
Swapping to company scale means setting these, not changing code.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where the platform keeps its state and how it reaches the outside world."""

    model_config = SettingsConfigDict(env_prefix="CHURN_", extra="forbid", frozen=True)

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="Root of all embedded state.")
    landing_dir: Path | None = Field(default=None, description="Landing folder; default data_dir/landing.")
    ground_truth_dir: Path | None = Field(
        default=None,
        description="Simulator ground truth, never read by the pipeline; default data_dir/ground_truth.",
    )
    warehouse_path: Path | None = Field(
        default=None, description="DuckDB file; default data_dir/warehouse.duckdb."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default a SQLite store in data_dir/mlflow."
    )
    dagster_home: Path | None = Field(default=None, description="DAGSTER_HOME; default data_dir/dagster.")
    outbox_dir: Path | None = Field(default=None, description="Local email outbox; default data_dir/outbox.")
    company_profile: str = Field(
        default="saas",
        description="Company profile: a shipped name (saas, social) or a path to a company.yaml "
        "(read by churn_platform.profile).",
    )
    expectations_dir: Path | None = Field(
        default=None,
        description="Great Expectations suites of the company; default expectations/<profile name>/.",
    )
    policy_path: Path = Field(
        default=PROJECT_ROOT / "churn_platform" / "policies" / "churn_policy.yaml",
        description="Versioned churn policy: tiers, value, promotion, retention playbooks.",
    )
    model_name: str = Field(default="churn_model", description="Registered model name in MLflow.")
    retention_policy_path: Path = Field(
        default=PROJECT_ROOT / "churn_platform" / "policies" / "retention_policy.yaml",
        description="Versioned retention policy: playbooks, control share, cooldown, capacity, costs.",
    )
    sender_email: str = "success@churn-platform.local"
    task_webhook_url: str | None = Field(default=None, description="Where account-manager tasks are posted.")
    sendgrid_api_key: SecretStr | None = Field(default=None, description="Send real email when set.")
    sendgrid_host: str = "https://api.sendgrid.com"

    alert_webhook_url: SecretStr | None = Field(
        default=None, description="Slack-compatible incoming webhook for alerts (a secret: never logged)."
    )
    alert_emails: str = Field(
        default="",
        description="Comma-separated addresses of the owning team, emailed through the campaign path.",
    )
    host: str = Field(default="127.0.0.1", description="Interface the UIs bind to (localhost by default).")
    dagster_port: int = 3000
    mlflow_port: int = 5000
    evidently_port: int = 8000
    dashboard_port: int = 8501

    demo_customers: int = Field(default=10000, ge=10, description="Size of the demo company.")
    demo_months: int = Field(default=12, ge=2, le=120)
    demo_start: str = "2025-01-01"
    seed: int = 42

    @cached_property
    def landing(self) -> Path:
        return self.landing_dir or self.data_dir / "landing"

    @cached_property
    def ground_truth(self) -> Path:
        return self.ground_truth_dir or self.data_dir / "ground_truth"

    @cached_property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.data_dir / "warehouse.duckdb"

    @cached_property
    def mlflow_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.data_dir / 'mlflow' / 'mlflow.db'}"

    @cached_property
    def mlflow_artifacts(self) -> Path:
        return self.data_dir / "mlflow" / "artifacts"

    @cached_property
    def dagster(self) -> Path:
        return self.dagster_home or self.data_dir / "dagster"

    @cached_property
    def published(self) -> Path:
        """Parquet snapshots for readers in other processes (notebooks, dashboard)."""
        return self.data_dir / "published"

    @cached_property
    def ledger_export(self) -> Path:
        """The send ledger as the simulator reads it back (closing the loop)."""
        return self.data_dir / "exports" / "send_ledger.parquet"

    @cached_property
    def reports(self) -> Path:
        """Self-contained Evidently HTML reports, one per monitoring run (plus ``*-latest.html``)."""
        return self.data_dir / "reports"

    @cached_property
    def evidently_workspace(self) -> Path:
        """The Evidently workspace the Evidently UI serves: snapshots accumulate run after run."""
        return self.data_dir / "evidently"

    @property
    def alert_recipients(self) -> list[str]:
        return [a.strip() for a in self.alert_emails.split(",") if a.strip()]

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    @cached_property
    def outbox(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"


def get_settings() -> Settings:
    """Read settings fresh from the environment (tests change it between cases)."""
    return Settings()
