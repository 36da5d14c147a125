"""The landing data contract: what a company delivers to the platform, built from its company profile.

The platform knows six kinds of source (accounts, subscriptions, invoices, usage events, support tickets, NPS
responses) and what it needs of each; the company profile (:mod:`churn_platform.profile`) fills in what differs
between companies: the vocabularies, the event types, the extra customer attributes and which optional sources
come at all. :func:`contract_for` builds the contract once, so the simulator (which writes it), ingestion (which
reads and checks it), the Great Expectations suites, dbt's sources and ``docs/data-contract.md`` all speak the
same one. Nothing in this module imports Dagster, so ``ml/`` and the simulator may use it freely.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pyarrow as pa

from churn_platform.profile import (
    ALL_SOURCE_NAMES,
    OTHER,
    VOCABULARY_COLUMNS,
    CompanyProfile,
    load_profile,
    resolve_profile_path,
)

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
    pattern: str | None = None  # a regular expression every present value must match
    pattern_rule: str = ""  # the pattern in words (for the quarantine's reason and the document)
    vocabulary: str | None = None  # the profile vocabulary the values are normalised against
    unknown: str = "quarantine"  # what an unknown value gets: quarantine, or mapping to "other"
    configurable: str = ""  # what a company's profile may change about this column (for the document)

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

    delivered: bool = True  # the company delivers this source (optional sources may be left out)

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
_ATTRIBUTE_TYPES = {"numeric": "decimal", "categorical": "string", "boolean": "boolean", "date": "date"}
_UPDATED = "When this version of the row was exported."


def _vocab(profile: CompanyProfile, source: str, name: str) -> dict[str, Any]:
    """Column options of a vocabulary column: its canonical values and what an unknown value gets."""
    vocab_name = next(v for v, cols in VOCABULARY_COLUMNS.items() if f"{source}.{name}" in cols)
    vocab = profile.vocabulary(vocab_name)
    return {
        "allowed": profile.allowed_values(vocab_name),
        "vocabulary": vocab_name,
        "unknown": vocab.unknown,
        "configurable": f"values and unknown-value rule: `vocabularies.{vocab_name}`",
    }


def _accounts(profile: CompanyProfile) -> Source:
    attributes = tuple(
        Column(
            a.name,
            cast(LogicalType, _ATTRIBUTE_TYPES[a.type]),
            a.description or f"Customer attribute `{a.name}` ({a.type}).",
            required=False,
            nullable=True,
            allowed=(
                None
                if a.values is None
                else (*a.values, *((OTHER,) if a.unknown == "other" and OTHER not in a.values else ()))
            ),
            minimum=a.minimum,
            maximum=a.maximum,
            vocabulary=f"attribute:{a.name}" if a.values is not None else None,
            unknown=a.unknown,
            configurable="an attribute of the profile (`attributes`): enters the model as "
            f"`{a.feature_name}` at its value on each snapshot date",
        )
        for a in profile.attributes
    )
    return Source(
        name="accounts",
        system="CRM",
        description="One row per customer account. Re-delivered whenever the account changes "
        "(onboarding completed, consent withdrawn, unsubscribed, a new account manager, a changed attribute); "
        "every version is kept, and each snapshot sees the version whose `updated_at` lies before it.",
        primary_key=_ID,
        updated_at="updated_at",
        references_accounts=False,
        columns=(
            Column(
                _ID,
                "string",
                "Stable customer identifier (any text: numbers keep their leading zeros, UUIDs).",
            ),
            Column("name", "string", "Customer (company or person) name."),
            Column("email", "string", "Main contact email address."),
            Column(
                "country",
                "string",
                "ISO 3166-1 alpha-2 country code.",
                **_vocab(profile, "accounts", "country"),
            ),
            Column(
                "segment", "string", "Sales or customer segment.", **_vocab(profile, "accounts", "segment")
            ),
            Column(
                "plan", "string", "Current plan at the time of export.", **_vocab(profile, "accounts", "plan")
            ),
            Column("signup_date", "date", "Date the account was created.", not_future=True),
            Column(
                "acquisition_channel",
                "string",
                "How the customer was acquired.",
                **_vocab(profile, "accounts", "acquisition_channel"),
            ),
            Column("marketing_consent", "boolean", "The customer agreed to receive marketing messages."),
            Column("unsubscribed", "boolean", "The customer unsubscribed from all marketing messages."),
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
                "Date the customer finished onboarding; empty while it is incomplete (leave the column out "
                "if onboarding is not tracked).",
                required=False,
                nullable=True,
                not_future=True,
            ),
            *_contact_columns(profile),
            *attributes,
            Column("updated_at", "timestamp", _UPDATED, not_future=True),
        ),
    )


E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
TIME_ZONE_PATTERN = r"^(UTC|[A-Za-z][A-Za-z_+-]*(/[A-Za-z0-9_+-]+){1,2})$"


def _contact_columns(profile: CompanyProfile) -> tuple[Column, ...]:
    """Optional columns for the channels beyond email: per-channel consent, phone, language, time zone."""
    contact = profile.contact
    return (
        Column(
            "phone", "string", "Mobile number for text messages, in E.164 (`+4915123456789`).",
            required=False, nullable=True, pattern=E164_PATTERN, pattern_rule="an E.164 phone number",
        ),
        Column(
            "sms_consent", "boolean", "The customer agreed to receive marketing text messages (empty: no).",
            required=False, nullable=True, configurable="which channel it allows: `contact.consent`",
        ),
        Column(
            "push_consent", "boolean", "The customer agreed to in-app and push notifications (empty: no).",
            required=False, nullable=True, configurable="which channel it allows: `contact.consent`",
        ),
        Column(
            "language", "string", "Preferred language, an ISO 639-1 code or a BCP 47 tag (`es`, `de-AT`); "
            f"messages are written in it when a template exists, else in `{contact.default_language}`.",
            required=False, nullable=True, pattern=LANGUAGE_PATTERN, pattern_rule="a language code",
            configurable="default: `contact.default_language`",
        ),
        Column(
            "time_zone", "string", "IANA time zone (`Europe/Madrid`), for quiet hours of text and push "
            f"messages; empty: `{contact.default_time_zone}`.",
            required=False, nullable=True, pattern=TIME_ZONE_PATTERN, pattern_rule="an IANA time zone name",
            configurable="default: `contact.default_time_zone`",
        ),
    )  # fmt: skip


def _subscriptions(profile: CompanyProfile) -> Source:
    return Source(
        name="subscriptions",
        system="billing",
        description="One row per subscription period. A plan change ends the current period and starts a new "
        "one (`change_type` upgrade or downgrade); a renewal may start a new period (`renewal`). A cancellation "
        "sets `cancel_date` (the day the customer cancelled, i.e. churned) and `end_date`. A customer who "
        "comes back after cancelling starts a new period (`reactivation`, or `new`): each run of periods "
        "from a start to a cancellation is an *active spell*, and churn labels are defined per spell. "
        "Re-delivered when it changes; the latest `updated_at` wins.",
        primary_key="subscription_id",
        updated_at="updated_at",
        columns=(
            Column("subscription_id", "string", "Subscription period identifier."),
            Column(_ID, "string", "Customer the subscription belongs to."),
            Column("plan", "string", "Plan of this period.", **_vocab(profile, "subscriptions", "plan")),
            Column(
                "mrr",
                "decimal",
                f"Monthly recurring revenue of this period, in {profile.currency}.",
                minimum=0,
            ),
            Column(
                "change_type",
                "string",
                "Why this period started.",
                **_vocab(profile, "subscriptions", "change_type"),
            ),
            Column("start_date", "date", "First day of the period.", not_future=True),
            Column("end_date", "date", "Last day of the period; empty while it runs.", nullable=True),
            Column(
                "cancel_date",
                "date",
                "Day the customer cancelled; empty unless cancelled.",
                nullable=True,
                not_future=True,
            ),
            Column("updated_at", "timestamp", _UPDATED, not_future=True),
        ),
    )


def _invoices(profile: CompanyProfile) -> Source:
    return Source(
        name="invoices",
        system="billing",
        description="One row per invoice. Delivered when issued; re-delivered when its payment status settles "
        "after the batch it was issued in. The latest `updated_at` wins.",
        primary_key="invoice_id",
        updated_at="updated_at",
        delivered=profile.delivers("invoices"),
        columns=(
            Column("invoice_id", "string", "Invoice identifier."),
            Column(_ID, "string", "Customer invoiced."),
            Column("subscription_id", "string", "Subscription period invoiced."),
            Column("issued_date", "date", "Day the invoice was issued.", not_future=True),
            Column("due_date", "date", "Day payment is due."),
            Column("amount", "decimal", f"Invoice amount, in {profile.currency}.", minimum=0),
            Column(
                "paid_date", "date", "Day it was paid; empty while unpaid.", nullable=True, not_future=True
            ),
            Column(
                "status", "string", "Payment status at export time.", **_vocab(profile, "invoices", "status")
            ),
            Column("failed_attempts", "integer", "Failed charge attempts so far.", minimum=0, maximum=20),
            Column("updated_at", "timestamp", _UPDATED, not_future=True),
        ),
    )


def _usage_events(profile: CompanyProfile) -> Source:
    types = profile.event_type_names
    measured = [e for e in profile.event_types if e.measure != "none"]
    return Source(
        name="usage_events",
        system="product analytics",
        description="Append-only product events, one row per event, of the event types the profile names ("
        + ", ".join(f"`{t}`" for t in types)
        + "). Events of a type with a measure carry it in `duration_seconds` or `value`.",
        primary_key="event_id",
        columns=(
            Column(
                "event_id", "string", "Event identifier, unique across all batches (any text, e.g. a UUID)."
            ),
            Column(_ID, "string", "Customer whose user produced the event."),
            Column("event_ts", "timestamp", "When the event happened (UTC).", not_future=True),
            Column(
                "event_type",
                "string",
                "Kind of event.",
                allowed=types,
                vocabulary="event_type",
                configurable="the profile's `event_types`",
            ),
            Column(
                "feature",
                "string",
                "Detail of the event (e.g. which feature was used), if any.",
                required=False,
                nullable=True,
                **_vocab(profile, "usage_events", "feature"),
            ),
            Column(
                "duration_seconds",
                "integer",
                "Duration, for event types measured by duration ("
                + (", ".join(f"`{e.name}`" for e in measured if e.measure == "duration") or "none")
                + ").",
                required=False,
                nullable=True,
                minimum=0,
                maximum=86_400,
            ),
            Column(
                "value",
                "decimal",
                "Numeric value, for event types measured by value ("
                + (", ".join(f"`{e.name}`" for e in measured if e.measure == "value") or "none")
                + ").",
                required=False,
                nullable=True,
            ),
        ),
    )


def _support_tickets(profile: CompanyProfile) -> Source:
    return Source(
        name="support_tickets",
        system="helpdesk",
        description="One row per ticket. Delivered when opened; re-delivered when resolved, escalated or rated. "
        "The latest `updated_at` wins.",
        primary_key="ticket_id",
        updated_at="updated_at",
        delivered=profile.delivers("support_tickets"),
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
            Column("priority", "string", "Priority.", **_vocab(profile, "support_tickets", "priority")),
            Column("category", "string", "Category.", **_vocab(profile, "support_tickets", "category")),
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
            Column("updated_at", "timestamp", _UPDATED, not_future=True),
        ),
    )


def _nps_responses(profile: CompanyProfile) -> Source:
    return Source(
        name="nps_responses",
        system="survey tool",
        description="Append-only Net Promoter Score survey responses.",
        primary_key="response_id",
        delivered=profile.delivers("nps_responses"),
        columns=(
            Column("response_id", "string", "Response identifier."),
            Column(_ID, "string", "Customer who answered."),
            Column("responded_at", "date", "Day of the answer.", not_future=True),
            Column("score", "integer", "How likely to recommend us, 0-10.", minimum=0, maximum=10),
            Column("comment", "string", "Free-text comment.", required=False, nullable=True),
        ),
    )


_BUILDERS = {
    "accounts": _accounts,
    "subscriptions": _subscriptions,
    "invoices": _invoices,
    "usage_events": _usage_events,
    "support_tickets": _support_tickets,
    "nps_responses": _nps_responses,
}


@dataclass(frozen=True)
class Contract:
    """The data contract of one company: every source the platform knows, as this company delivers it."""

    profile: CompanyProfile
    sources: dict[str, Source]

    @property
    def delivered(self) -> dict[str, Source]:
        """The sources this company delivers (optional sources it does not are still raw tables, empty)."""
        return {n: s for n, s in self.sources.items() if s.delivered}


def contract_for(profile: CompanyProfile) -> Contract:
    """Build the contract of a company from its profile (every source, in ingestion order)."""
    return Contract(profile, {name: _BUILDERS[name](profile) for name in ALL_SOURCE_NAMES})


def active_contract() -> Contract:
    """The contract of the active company profile (``CHURN_COMPANY_PROFILE``)."""
    return contract_named(None)


def contract_named(ref: str | None) -> Contract:
    """The contract of a profile given by name or path (None: the active one); built once per file version."""
    path = resolve_profile_path(ref)
    return _cached(str(path), path.stat().st_mtime if path.exists() else 0.0)


@functools.lru_cache(maxsize=8)
def _cached(path: str, _mtime: float) -> Contract:
    return contract_for(load_profile(path))


FILE_FORMATS = ("csv", "parquet")

LANDING_LAYOUT = (
    "landing/<source>/<batch_date>/<source>_<batch_date>_part<NNNN>.<csv|parquet>, where <batch_date> is "
    "the ISO date (YYYY-MM-DD) the batch was cut: it holds the rows that changed up to the end of that day."
)

SEND_LEDGER_COLUMNS = (
    Column(_ID, "string", "Customer contacted."),
    Column("intervention", "string", "Intervention delivered.", allowed=INTERVENTIONS),
    Column("snapshot_date", "date", "As-of date of the scoring that decided the contact."),
)


def render_markdown(contract: Contract | None = None) -> str:
    """Render a company's contract as the human document, so docs never drift from what the code checks."""
    contract = contract or contract_named("saas")
    profile = contract.profile
    lines = [
        "# Landing data contract",
        "",
        "_Generated from the company profile "
        f"`churn_platform/profiles/{profile.name}.yaml` by `churn-platform contract --write`; do not edit by "
        "hand._",
        "",
        "The platform knows six kinds of source and what it needs of each. What differs between companies is "
        "set in the **company profile** (`CHURN_COMPANY_PROFILE`: a path, or `saas` / `social`), and this "
        "document is generated from it. This one is the contract of the profile "
        f"**{profile.name}** (version {profile.version}): {profile.description.strip()}",
        "",
        "## What a profile configures",
        "",
        "| profile key | what it sets | default |",
        "|---|---|---|",
        "| `vocabularies.<name>.values` | the allowed values of plan, segment, country, acquisition_channel, "
        "change_type, invoice_status, ticket_priority, ticket_category, feature | any value; country: every "
        "ISO 3166-1 alpha-2 code; change_type: new, renewal, upgrade, downgrade, reactivation |",
        "| `vocabularies.<name>.unknown` | an unknown value quarantines its row (`quarantine`) or is stored as "
        "`other` and counted in the run's metadata (`other`) | `quarantine` |",
        "| `event_types` | the product's event types (any number, any names), each optionally measured by "
        "`duration` or `value`, and which features it gets | required |",
        "| `attributes` | extra columns of `accounts` (numeric, categorical, boolean, date) that enter the "
        "model at their value on each snapshot date; a date becomes years before the snapshot | none |",
        "| `sources` | whether `invoices`, `support_tickets` and `nps_responses` are delivered | all |",
        "| `currency` | ISO 4217 code of MRR and amounts | USD |",
        "| `files` | CSV delimiter, decimal mark, quote, date and timestamp formats, per source if needed | "
        "`,` and `.`, ISO 8601 |",
        "| `exports` | how a system's own export maps onto a source (columns, values, formats, presets for "
        "Stripe and Zendesk) | none |",
        "| `connectors` | the company's application database (PostgreSQL) tables feeding sources | none |",
        "| `contact` | the consent column of each channel, default language and time zone | |",
        "",
        "Values are matched ignoring case and surrounding spaces (`us` is `US`, ` Basic` is `basic`) and "
        "stored as the profile writes them.",
        "",
        "## Delivery",
        "",
        "A company delivers its data as dated batches of files in a landing folder:",
        "",
        f"    {LANDING_LAYOUT}",
        "",
        "Both CSV and Parquet are accepted. A batch may hold several part files. Files are ingested exactly "
        "once, identified by their content hash; re-delivering the same file adds nothing. A source the profile "
        'marks as not delivered is simply absent; a header-only file means "no rows". Extra columns are ignored.',
        "",
        "### Names",
        "",
        "- folder and file names are matched ignoring case (`Accounts_2025-07-01_part0001.CSV` is read);",
        "- a file directly in a source folder takes its batch date from its name; a file with another name "
        "inside a batch folder takes the folder's source and date;",
        "- not understood, listed in the run's metadata and `raw._landing_issues`, never silently skipped: a "
        'folder that is no source (`account/`: "did you mean accounts?"), a date that is not a calendar date '
        "(`2025-06-31`), another extension, anything nested deeper;",
        "- rejected with the reason: a name whose date disagrees with its batch folder (`accounts_2052-07-01_...` "
        "in `2025-07-01/`), a batch date in the future;",
        "- only regular files are read: a fifo, a device or a socket (or a symlink to one) is refused.",
        "",
        "### Values",
        "",
        f"- **CSV**: UTF-8 (a byte-order mark is ignored), a header row naming each column once, RFC 4180 quoting "
        f"(a quoted value may hold the delimiter, quotes doubled, and line breaks, at any file size). Delimiter "
        f"and decimal mark come from the profile (`files.csv`, per source `files.per_source`); this company: "
        f"`{profile.files.csv.delimiter}` and `{profile.files.csv.decimal_mark}`. An empty field is null.",
        "- **identifiers** are text: `000123` stays `000123`, UUIDs are welcome;",
        "- **integers** must be whole numbers: `6.5` is quarantined (`score: not a valid integer`), never rounded;",
        "- **decimals** must be finite: `Infinity` and `NaN` are quarantined (`mrr: not a finite decimal`); with "
        "the decimal mark `,`, `1.234,50` reads 1234.5;",
        "- **dates** are ISO 8601 (`YYYY-MM-DD`) unless the profile gives `date_format`;",
        "- **timestamps** are ISO 8601 with or without an offset, or epoch seconds / milliseconds; an offset is "
        "converted and everything is stored in **UTC**, whatever the machine's time zone (Parquet timestamps "
        "with a time zone likewise; without one they are UTC);",
        "- **booleans**: `true`/`false`, `1`/`0`, `t`/`f`, `yes`/`no`, any case;",
        "- **vocabularies** are matched ignoring case and surrounding spaces, stored as the profile writes them.",
        "",
        "### Rules",
        "",
        "- **required** columns must be present in every file; optional ones may be left out;",
        "- a column that is not **nullable** must have a value in every row;",
        "- the primary key is unique within a file;",
        "- `not future` dates must not lie after the batch date, timestamps not after its end (the batch date is "
        "the cut day: a change at 12:00 on it belongs to the batch);",
        "- every `customer_id` outside `accounts` must be known to `accounts` (this batch or earlier; rows held "
        "for an unknown customer load once accounts know them).",
        "",
        "A file that cannot be read is rejected whole with one line naming it; a row that breaks a rule is "
        "quarantined in `raw._quarantine` with file, row, column, value and rule, and the rest loads. The quality "
        "gate of a source stays failed while any delivery's held rows exceed the limit (5%), until the rows are "
        "re-delivered or the batch is accepted (`churn-platform accept-quarantine`).",
        "",
        "## Active spells and churn",
        "",
        "A customer is *active* at a snapshot date when a subscription spell covers it: a spell starts with a "
        "customer's first period, or with the first period after a cancellation (a reactivation), and ends on "
        "the `cancel_date` that closes it. The churn label of a snapshot is whether the spell active then ends "
        "within the horizon (30 days by default). A customer who cancelled on 1 March and came back on 15 July "
        "is not active at the April to July snapshots and active again from 1 August, with the new period's "
        "MRR; the March cancellation is a churn of the first spell only.",
        "",
    ]
    for source in contract.sources.values():
        delivered = "" if source.delivered else " — not delivered by this company"
        lines += [
            f"## `{source.name}` ({source.system}){delivered}",
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
                shown = ", ".join(f"`{a}`" for a in c.allowed[:20])
                more = f" (and {len(c.allowed) - 20} more)" if len(c.allowed) > 20 else ""
                rules.append("one of " + shown + more)
            elif c.vocabulary:
                rules.append("any value")
            if c.vocabulary and c.unknown == "other":
                rules.append("unknown values become `other`")
            if c.minimum is not None:
                rules.append(f">= {c.minimum:g}")
            if c.maximum is not None:
                rules.append(f"<= {c.maximum:g}")
            if c.not_future:
                rules.append("not future")
            if c.pattern:
                rules.append(c.pattern_rule or f"matches `{c.pattern}`")
            if c.configurable:
                rules.append(f"configurable: {c.configurable}")
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
