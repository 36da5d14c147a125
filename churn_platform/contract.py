"""The landing data contract: what a company delivers to the platform.

Encoded once here so the simulator (which writes it), ingestion (which reads and checks it), the Great
Expectations suites and ``docs/data-contract.md`` all speak the same contract. Nothing in this module
imports Dagster, so ``ml/`` and the simulator may use it freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

LogicalType = Literal["string", "integer", "decimal", "boolean", "date", "timestamp"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}

DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}

PLANS = ("basic", "pro", "business")
SEGMENTS = ("smb", "mid_market", "enterprise")
COUNTRIES = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "CA", "AU", "BR", "IN", "JP", "SE", "PL")
ACQUISITION_CHANNELS = ("organic", "paid_search", "referral", "partner", "outbound", "event")
EVENT_TYPES = ("login", "session", "feature_use")
FEATURES = ("dashboards", "reports", "integrations", "automation", "api", "collaboration", "exports")
SUBSCRIPTION_CHANGES = ("new", "upgrade", "downgrade")
INVOICE_STATUSES = ("open", "paid", "failed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_CATEGORIES = ("billing", "bug", "how_to", "feature_request", "account")
INTERVENTIONS = ("discount", "success_call", "training", "feature_trial")


@dataclass(frozen=True)
class Column:
    """One column of a landing file, with everything a check needs to judge a value."""

    name: str
    type: LogicalType
    description: str
    required: bool = True  # the column must be present in every file
    nullable: bool = False  # a present column may hold empty values
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    not_future: bool = False  # a date or timestamp that must not lie after the delivery date

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Source:
    """One raw source: a kind of file a company system exports, with its key and its columns."""

    name: str
    system: str
    description: str
    primary_key: str
    columns: tuple[Column, ...]
    updated_at: str | None = None  # rows re-delivered with a later value here replace earlier ones
    references_accounts: bool = True  # every customer_id must be known to accounts
    extra: tuple[str, ...] = field(default_factory=tuple)  # notes for the documentation

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])


_ID = "customer_id"

ACCOUNTS = Source(
    name="accounts",
    system="CRM",
    description="One row per customer account. Re-delivered whenever the account changes "
    "(onboarding completed, consent withdrawn, unsubscribed); the row with the latest `updated_at` wins.",
    primary_key=_ID,
    updated_at="updated_at",
    references_accounts=False,
    columns=(
        Column(_ID, "string", "Stable customer identifier."),
        Column("name", "string", "Company name."),
        Column("email", "string", "Billing / main contact email address."),
        Column("country", "string", "ISO 3166-1 alpha-2 country code.", allowed=COUNTRIES),
        Column("segment", "string", "Sales segment.", allowed=SEGMENTS),
        Column("plan", "string", "Current plan at the time of export.", allowed=PLANS),
        Column("signup_date", "date", "Date the account was created.", not_future=True),
        Column(
            "acquisition_channel", "string", "How the customer was acquired.", allowed=ACQUISITION_CHANNELS
        ),
        Column("marketing_consent", "boolean", "The customer agreed to receive marketing email."),
        Column("unsubscribed", "boolean", "The customer unsubscribed from all email."),
        Column(
            "account_manager",
            "string",
            "Name of the assigned account manager; empty for self-serve accounts.",
            required=False,
            nullable=True,
        ),
        Column(
            "onboarding_completed_at",
            "date",
            "Date the customer finished onboarding; empty while it is incomplete.",
            required=False,
            nullable=True,
            not_future=True,
        ),
        Column("updated_at", "timestamp", "When this version of the row was exported.", not_future=True),
    ),
)

SUBSCRIPTIONS = Source(
    name="subscriptions",
    system="billing",
    description="One row per subscription period. A plan change ends the current period and starts a new "
    "one (`change_type` upgrade or downgrade). A cancellation sets `cancel_date` (the day the customer "
    "cancelled, i.e. churned) and `end_date`. Re-delivered when it changes; the latest `updated_at` wins.",
    primary_key="subscription_id",
    updated_at="updated_at",
    columns=(
        Column("subscription_id", "string", "Subscription period identifier."),
        Column(_ID, "string", "Customer the subscription belongs to."),
        Column("plan", "string", "Plan of this period.", allowed=PLANS),
        Column(
            "mrr", "decimal", "Monthly recurring revenue of this period, in the account currency.", minimum=0
        ),
        Column("change_type", "string", "Why this period started.", allowed=SUBSCRIPTION_CHANGES),
        Column("start_date", "date", "First day of the period.", not_future=True),
        Column("end_date", "date", "Last day of the period; empty while it runs.", nullable=True),
        Column(
            "cancel_date",
            "date",
            "Day the customer cancelled; empty unless cancelled.",
            nullable=True,
            not_future=True,
        ),
        Column("updated_at", "timestamp", "When this version of the row was exported.", not_future=True),
    ),
)

INVOICES = Source(
    name="invoices",
    system="billing",
    description="One row per invoice. Delivered when issued; re-delivered when its payment status settles "
    "after the batch it was issued in. The latest `updated_at` wins.",
    primary_key="invoice_id",
    updated_at="updated_at",
    columns=(
        Column("invoice_id", "string", "Invoice identifier."),
        Column(_ID, "string", "Customer invoiced."),
        Column("subscription_id", "string", "Subscription period invoiced."),
        Column("issued_date", "date", "Day the invoice was issued.", not_future=True),
        Column("due_date", "date", "Day payment is due."),
        Column("amount", "decimal", "Invoice amount.", minimum=0),
        Column("paid_date", "date", "Day it was paid; empty while unpaid.", nullable=True, not_future=True),
        Column("status", "string", "Payment status at export time.", allowed=INVOICE_STATUSES),
        Column("failed_attempts", "integer", "Failed charge attempts so far.", minimum=0, maximum=20),
        Column("updated_at", "timestamp", "When this version of the row was exported.", not_future=True),
    ),
)

USAGE_EVENTS = Source(
    name="usage_events",
    system="product analytics",
    description="Append-only product events: logins, sessions (with their duration) and feature use "
    "(with the feature).",
    primary_key="event_id",
    columns=(
        Column("event_id", "integer", "Event identifier, unique across all batches."),
        Column(_ID, "string", "Customer whose user produced the event."),
        Column("event_ts", "timestamp", "When the event happened (UTC).", not_future=True),
        Column("event_type", "string", "Kind of event.", allowed=EVENT_TYPES),
        Column(
            "feature",
            "string",
            "Feature used; set for feature_use events only.",
            nullable=True,
            allowed=FEATURES,
        ),
        Column(
            "duration_seconds",
            "integer",
            "Session length; set for session events only.",
            nullable=True,
            minimum=0,
            maximum=86_400,
        ),
    ),
)

SUPPORT_TICKETS = Source(
    name="support_tickets",
    system="helpdesk",
    description="One row per ticket. Delivered when opened; re-delivered when resolved, escalated or rated. "
    "The latest `updated_at` wins.",
    primary_key="ticket_id",
    updated_at="updated_at",
    columns=(
        Column("ticket_id", "string", "Ticket identifier."),
        Column(_ID, "string", "Customer who opened it."),
        Column("opened_at", "timestamp", "When the ticket was opened (UTC).", not_future=True),
        Column(
            "resolved_at",
            "timestamp",
            "When it was resolved; empty while open.",
            nullable=True,
            not_future=True,
        ),
        Column("priority", "string", "Priority.", allowed=TICKET_PRIORITIES),
        Column("category", "string", "Category.", allowed=TICKET_CATEGORIES),
        Column("escalated", "boolean", "Escalated to engineering or management."),
        Column(
            "satisfaction",
            "integer",
            "CSAT score 1-5 given after resolution; empty if not rated.",
            required=False,
            nullable=True,
            minimum=1,
            maximum=5,
        ),
        Column("updated_at", "timestamp", "When this version of the row was exported.", not_future=True),
    ),
)

NPS_RESPONSES = Source(
    name="nps_responses",
    system="survey tool",
    description="Append-only Net Promoter Score survey responses.",
    primary_key="response_id",
    columns=(
        Column("response_id", "string", "Response identifier."),
        Column(_ID, "string", "Customer who answered."),
        Column("responded_at", "date", "Day of the answer.", not_future=True),
        Column("score", "integer", "How likely to recommend us, 0-10.", minimum=0, maximum=10),
        Column("comment", "string", "Free-text comment.", required=False, nullable=True),
    ),
)

SOURCES: dict[str, Source] = {
    s.name: s for s in (ACCOUNTS, SUBSCRIPTIONS, INVOICES, USAGE_EVENTS, SUPPORT_TICKETS, NPS_RESPONSES)
}

FILE_FORMATS = ("csv", "parquet")

LANDING_LAYOUT = (
    "landing/<source>/<batch_date>/<source>_<batch_date>_part<NNNN>.<csv|parquet>, where <batch_date> is "
    "the ISO date (YYYY-MM-DD) the batch was cut: it holds the rows that changed before that date."
)

SEND_LEDGER_COLUMNS = (
    Column(_ID, "string", "Customer contacted."),
    Column("intervention", "string", "Intervention delivered.", allowed=INTERVENTIONS),
    Column("snapshot_date", "date", "As-of date of the scoring that decided the contact."),
)


def render_markdown() -> str:
    """Render the contract as the human document, so docs can never drift from what the code checks."""
    lines = [
        "# Landing data contract",
        "",
        "_Generated from `churn_platform/contract.py` by `churn-platform contract`; do not edit by hand._",
        "",
        "A company delivers its data as dated batches of files in a landing folder:",
        "",
        f"    {LANDING_LAYOUT}",
        "",
        "Both CSV (UTF-8, comma-separated, header row, ISO dates and timestamps, `true`/`false` booleans, "
        "empty field for null) and Parquet are accepted. Extra columns are ignored. Timestamps are UTC. "
        "A batch may hold several part files. Files are ingested exactly once, identified by their content "
        "hash; re-delivering the same file adds nothing.",
        "",
        "Rules that apply to every source:",
        "",
        "- **required** columns must be present in every file; optional ones may be left out;",
        "- a column that is not **nullable** must have a value in every row;",
        "- the primary key is unique within a file;",
        "- `not future` dates and timestamps must not lie after the batch date;",
        "- every `customer_id` outside `accounts` must be known to `accounts` (this batch or earlier).",
        "",
    ]
    for source in SOURCES.values():
        lines += [
            f"## `{source.name}` ({source.system})",
            "",
            source.description,
            "",
            f"Primary key: `{source.primary_key}`."
            + (f" Newer versions replace older by `{source.updated_at}`." if source.updated_at else ""),
            "",
            "| column | type | required | nullable | rule | description |",
            "|---|---|---|---|---|---|",
        ]
        for c in source.columns:
            rules = []
            if c.allowed:
                rules.append("one of " + ", ".join(f"`{a}`" for a in c.allowed))
            if c.minimum is not None:
                rules.append(f">= {c.minimum:g}")
            if c.maximum is not None:
                rules.append(f"<= {c.maximum:g}")
            if c.not_future:
                rules.append("not future")
            lines.append(
                f"| `{c.name}` | {c.type} | {'yes' if c.required else 'no'} | "
                f"{'yes' if c.nullable else 'no'} | {'; '.join(rules)} | {c.description} |"
            )
        lines.append("")
    lines += [
        "## The send ledger read back by the simulator",
        "",
        "`churn-platform simulate --advance-months` closes the loop: when the platform has exported a send "
        "ledger (Parquet or CSV), customers in it respond to the intervention they received during the "
        "30 days after `snapshot_date`.",
        "",
        "| column | type | rule | description |",
        "|---|---|---|---|",
    ]
    for c in SEND_LEDGER_COLUMNS:
        rule = "one of " + ", ".join(f"`{a}`" for a in c.allowed) if c.allowed else ""
        lines.append(f"| `{c.name}` | {c.type} | {rule} | {c.description} |")
    lines.append("")
    return "\n".join(lines)
