"""Typed platform settings: every location and switch, from ``CHURN_*`` environment variables.

The defaults give the embedded, single-laptop deployment: everything under ``data/`` in the project folder.
Swapping to company scale means setting these, not changing code.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "CHURN_"

READ_ELSEWHERE: dict[str, str] = {
    "CHURN_COMPANY_PROFILE": "the company profile (churn_platform/profile.py)",
    "CHURN_DASHBOARD_DIR": "where the risk dashboard reads its snapshot (churn_platform/dashboard/data.py)",
    "CHURN_PUBLISHED_DIR": "the marts folder the EDA notebook reads",
    "CHURN_SCREENSHOT_DIR": "where the browser tests keep their screenshots",
    "CHURN_DUCKDB_MEMORY_LIMIT": "DuckDB's memory limit during ingestion (churn_platform/lib/ingest.py)",
    "CHURN_WAREHOUSE_LOCK_WAIT_SECONDS": "how long a writer waits for the warehouse (churn_platform/lib/warehouse.py)",
}
"""``CHURN_*`` variables that are not settings fields but are read by one named part of the platform."""

ROLES = ("admin", "manager", "agent")
PERMISSIONS = ("all_accounts", "pii", "export", "audit_log")
DEFAULT_ROLE_PERMISSIONS: dict[str, list[str]] = {
    "admin": ["all_accounts", "pii", "export", "audit_log"],
    "manager": ["all_accounts", "export"],
    "agent": ["pii", "export"],
}


class SettingsError(ValueError):
    """Settings that cannot be used; the message is one line naming the variable and what is wrong."""


def company_policy(kind: str) -> Path:
    """The policy file of a kind (``churn`` or ``retention``) the active company profile names (relative to
    the profile file), else the shipped default: a company's economics (costs, value) are its own."""
    from churn_platform.profile import active_profile, resolve_profile_path

    named = getattr(active_profile().policies, kind)
    if named:
        return (resolve_profile_path(None).parent / named).resolve()
    return PROJECT_ROOT / "churn_platform" / "policies" / f"{kind}_policy.yaml"


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
        default_factory=lambda: company_policy("churn"),
        description="Versioned churn policy: tiers, value, promotion, monitoring; default the company "
        "profile's (policies.churn), else churn_platform/policies/churn_policy.yaml.",
    )
    model_name: str = Field(default="churn_model", description="Registered model name in MLflow.")
    retention_policy_path: Path = Field(
        default_factory=lambda: company_policy("retention"),
        description="Versioned retention policy: playbooks, control share, cooldown, capacity, costs; default "
        "the company profile's (policies.retention), else churn_platform/policies/retention_policy.yaml.",
    )
    sender_email: str = "success@churn-platform.local"
    sender_name: str = Field(default="Customer Success", description="Who messages are from ({{ company }}).")
    templates_path: Path = Field(
        default=PROJECT_ROOT / "churn_platform" / "policies" / "message_templates.yaml",
        description="Message templates per language (email, SMS, push, tasks).",
    )
    task_webhook_url: str | None = Field(
        default=None, description="Where team tasks are posted (generic webhook)."
    )
    sendgrid_api_key: SecretStr | None = Field(default=None, description="Send real email when set.")
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str | None = Field(
        default=None, description="Verification key of SendGrid's signed Event Webhook (receiver)."
    )
    twilio_account_sid: str | None = Field(default=None, description="Send real SMS through Twilio when set.")
    twilio_auth_token: SecretStr | None = Field(default=None, description="Twilio auth token (never logged).")
    twilio_from_number: str | None = Field(
        default=None, description="The Twilio number SMS are sent from (E.164)."
    )
    twilio_base_url: str | None = Field(
        default=None, description="Another Twilio API base URL (an edge, a fake)."
    )
    slack_bot_token: SecretStr | None = Field(default=None, description="Post team tasks to Slack when set.")
    slack_task_channel: str | None = Field(default=None, description="Slack channel id for team tasks.")
    slack_base_url: str = "https://slack.com/api/"
    in_app_webhook_url: SecretStr | None = Field(
        default=None, description="The product's endpoint for in-app and push notifications."
    )
    in_app_signing_secret: SecretStr | None = Field(
        default=None, description="Shared secret that signs in-app webhook requests (HMAC-SHA256)."
    )
    receiver_url: str | None = Field(
        default=None, description="Public URL of the delivery event receiver (Twilio status callbacks)."
    )
    receiver_port: int = 8800
    delivery_events_dir: Path | None = Field(
        default=None,
        description="Where the receiver files provider events; default data_dir/delivery_events.",
    )

    alert_webhook_url: SecretStr | None = Field(
        default=None, description="Slack-compatible incoming webhook for alerts (a secret: never logged)."
    )
    alert_emails: str = Field(
        default="",
        description="Comma-separated addresses of the owning team, emailed through the campaign path.",
    )
    source_database_url: SecretStr | None = Field(
        default=None,
        description="URL of the company's application database read by the connector "
        "(postgresql://user:password@host:5432/db; a secret: never logged).",
    )
    host: str = Field(default="127.0.0.1", description="Interface the UIs bind to (localhost by default).")
    dagster_port: int = 3000
    mlflow_port: int = 5000
    evidently_port: int = 8000
    dashboard_port: int = 8501

    # --- sign-in (OpenID Connect through Streamlit's st.login); unset: local mode, localhost only --------
    oidc_metadata_url: str | None = Field(
        default=None,
        description="The identity provider's discovery document (.../.well-known/openid-configuration).",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_cookie_secret: SecretStr | None = Field(
        default=None,
        description="Signs the dashboard's sign-in cookie; default derived from the client secret.",
    )
    oidc_redirect_uri: str | None = Field(
        default=None, description="Default http://HOST:DASHBOARD_PORT/oauth2callback."
    )
    auth_role_claim: str = Field(default="roles", description="The ID-token claim that carries the roles.")
    auth_role_map: dict[str, str] = Field(
        default_factory=lambda: {r: r for r in ROLES},
        description="Claim value -> role (admin, manager, agent), as JSON.",
    )
    auth_agent_claim: str = Field(
        default="name", description="The claim whose value is the agent's name as accounts' account_manager."
    )
    role_permissions: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ROLE_PERMISSIONS.items()},
        description="Role -> permissions (all_accounts, pii, export, audit_log), as JSON.",
    )

    # --- the scoring API -----------------------------------------------------------------------------
    api_port: int = 8081
    api_keys_file: Path | None = Field(
        default=None, description="Hashed API keys; default data_dir/api/keys.json."
    )
    api_reload_seconds: float = Field(
        default=5.0, gt=0, description="How often the API checks whether the champion alias moved."
    )
    api_max_batch: int = Field(default=64, ge=1, description="Most rows scored together by POST /v1/score.")

    # --- CRM write-back (unset: the assets export files only) ----------------------------------------------
    hubspot_access_token: SecretStr | None = Field(default=None, description="HubSpot private app token.")
    hubspot_host: str = "https://api.hubapi.com"
    hubspot_object: str = "companies"
    hubspot_id_property: str = Field(
        default="churn_customer_id", description="The unique HubSpot property holding our customer id."
    )
    salesforce_instance_url: str | None = None
    salesforce_session_id: SecretStr | None = Field(default=None, description="An OAuth access token.")
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_domain: str = "login"
    salesforce_object: str = "Account"
    salesforce_external_id_field: str = "Churn_Customer_Id__c"
    crm_batch_size: int = Field(default=100, ge=1, le=10_000)
    crm_backoff_seconds: float = Field(default=0.5, ge=0, description="First retry wait; doubles each time.")

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
    def connectors(self) -> Path:
        """Connector state: dlt's pipeline state (the incremental cursor) and extracted files not yet landed."""
        return self.data_dir / "connectors"

    @cached_property
    def outbox(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @cached_property
    def delivery_events(self) -> Path:
        return self.delivery_events_dir or self.data_dir / "delivery_events"

    @cached_property
    def exports(self) -> Path:
        """Files for other tools: the send-ledger export, the CRM export."""
        return self.data_dir / "exports"

    @cached_property
    def privacy(self) -> Path:
        """The erasure salt and suppression list (salted hashes only)."""
        return self.data_dir / "privacy"

    @cached_property
    def audit_db(self) -> Path:
        """Who signed in, exported and erased what (SQLite, written by the dashboard, the CLI and the API)."""
        return self.data_dir / "audit" / "audit.db"

    @cached_property
    def api_keys(self) -> Path:
        return self.api_keys_file or self.data_dir / "api" / "keys.json"

    @property
    def auth_enabled(self) -> bool:
        """Sign-in is on when an identity provider is configured."""
        return bool(self.oidc_metadata_url and self.oidc_client_id)


def _closest(name: str) -> str | None:
    known = [f"{PREFIX}{field.upper()}" for field in Settings.model_fields] + list(READ_ELSEWHERE)
    found = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``CHURN_*`` variables that no part of the platform reads."""
    known = {f"{PREFIX}{field.upper()}" for field in Settings.model_fields} | set(READ_ELSEWHERE)
    return sorted(k for k in environ if k.upper().startswith(PREFIX) and k.upper() not in known)


def _one_line(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        variable = f"{PREFIX}{field.upper()}" if field else "settings"
        value = os.environ.get(variable)
        shown = (
            ""
            if value is None or "secret" in field or "token" in field or "password" in field
            else f"={value!r}"
        )
        problems.append(f"{variable}{shown}: {err['msg']}")
    return "; ".join(problems)


def get_settings() -> Settings:
    """Read settings fresh from the environment (tests change it between cases).

    Raises ``SettingsError`` (one line) for a ``CHURN_*`` variable nothing reads, naming the closest valid
    one (a typo would otherwise be ignored silently), and for a value of the wrong type.
    """
    unknown = unknown_variables(os.environ)
    if unknown:
        hints = []
        for name in unknown:
            close = _closest(name)
            hints.append(f"{name} (did you mean {close}?)" if close else name)
        raise SettingsError(
            f"unknown setting {', '.join(hints)}: no part of the platform reads it; "
            "see the Settings table in README.md"
        )
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
    except PydanticSettingsError as exc:  # a structured value (JSON) that does not parse
        found = re.search(r'field "(\w+)"', str(exc))
        variable = f"{PREFIX}{found.group(1).upper()}" if found else "a CHURN_ variable"
        raise SettingsError(f"{variable}: not valid JSON (it takes a JSON object)") from None
