"""The company profile: the one description of what this company's data looks like.

Every company names its plans, segments, countries and product events differently, delivers a different set of
sources and keeps different facts about its customers. A profile (``company.yaml``, validated, versioned like
the policies) says all of that once; the data contract (:mod:`churn_platform.contract`), the Great Expectations
suites, dbt's sources and variables, the behaviour features per event type and the simulator all follow from
it. Nothing downstream assumes a vocabulary.

The active profile comes from ``CHURN_COMPANY_PROFILE``: a path to a YAML file, or the name of a profile
shipped in ``churn_platform/profiles/`` (``saas``, the simulator's default B2B company, or ``social``, a
consumer app). Nothing here imports Dagster, so ``ml/`` and the simulator may use it.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = "saas"
PROFILE_ENV = "CHURN_COMPANY_PROFILE"

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
OTHER = "other"

UnknownPolicy = Literal["quarantine", "other"]
Measure = Literal["none", "duration", "value"]
EventFeature = Literal["count", "change", "recency", "per_active_day"]
EVENT_FEATURES: tuple[EventFeature, ...] = ("count", "change", "recency", "per_active_day")
AttributeType = Literal["numeric", "categorical", "boolean", "date"]

# The vocabularies the platform knows, and the contract columns each one governs (source.column).
VOCABULARY_COLUMNS: dict[str, tuple[str, ...]] = {
    "plan": ("accounts.plan", "subscriptions.plan"),
    "segment": ("accounts.segment",),
    "country": ("accounts.country",),
    "acquisition_channel": ("accounts.acquisition_channel",),
    "change_type": ("subscriptions.change_type",),
    "invoice_status": ("invoices.status",),
    "ticket_priority": ("support_tickets.priority",),
    "ticket_category": ("support_tickets.category",),
    "feature": ("usage_events.feature",),
}
# Subscription change types whose meaning the platform relies on (spells, reactivation, downgrades).
STANDARD_CHANGE_TYPES = ("new", "renewal", "upgrade", "downgrade", "reactivation")
INVOICE_STATUSES = ("open", "paid", "failed")
OPTIONAL_SOURCES = ("invoices", "support_tickets", "nps_responses")
ALL_SOURCE_NAMES = (
    "accounts",
    "subscriptions",
    "invoices",
    "usage_events",
    "support_tickets",
    "nps_responses",
)
# Columns of the contract an attribute may not shadow.
RESERVED_ACCOUNT_COLUMNS = frozenset(
    {
        "customer_id", "name", "email", "country", "segment", "plan", "signup_date", "acquisition_channel",
        "marketing_consent", "unsubscribed", "account_manager", "onboarding_completed_at", "updated_at",
        "phone", "sms_consent", "push_consent", "language", "time_zone",
    }
)  # fmt: skip
# The boolean columns of accounts a channel's consent may be read from (``contact.consent``).
CONSENT_COLUMNS = ("marketing_consent", "sms_consent", "push_consent")


def _iso_countries() -> tuple[str, ...]:
    import pycountry

    return tuple(sorted(c.alpha_2 for c in pycountry.countries))


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vocabulary(_Strict):
    """The allowed values of one kind of column, and what an unknown value gets.

    ``values`` null means "any value" (for ``country``: every ISO 3166-1 alpha-2 code). Values are matched
    after trimming surrounding spaces and ignoring case, and stored as written here. An unknown value
    quarantines its row (``quarantine``) or is stored as ``other`` and counted in the run (``other``).
    """

    values: tuple[str, ...] | None = None
    unknown: UnknownPolicy = "quarantine"
    description: str = ""

    @field_validator("values")
    @classmethod
    def _distinct(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if values is None:
            return None
        if not values:
            raise ValueError("values may not be empty (leave it out, or null, to allow any value)")
        folded = [v.strip().casefold() for v in values]
        dupes = sorted({v for v in folded if folded.count(v) > 1})
        if dupes:
            raise ValueError(f"values repeat (ignoring case and spaces): {', '.join(dupes)}")
        if any(v != v.strip() or not v for v in values):
            raise ValueError("values may not be blank or carry surrounding spaces")
        return values


class EventType(_Strict):
    """One kind of product event, with the features the platform derives from it.

    ``label`` is the plural noun the reasons use ("posts down 60% in the last 30 days"); ``measure`` says
    whether events of this type carry a duration (``duration_seconds``) or a numeric value (``value``), which
    are then summed like the counts.
    """

    name: str
    label: str | None = None
    measure: Measure = "none"
    value_label: str | None = Field(
        default=None, description="What the summed measure is called in reasons, e.g. 'minutes watched'."
    )
    features: tuple[EventFeature, ...] = EVENT_FEATURES
    description: str = ""

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not IDENTIFIER.match(name):
            raise ValueError(
                f"{name!r} is not a usable event type name: lower-case letters, digits and _ , starting with a "
                "letter, at most 40 characters (it becomes part of feature column names)"
            )
        return name

    @property
    def plural(self) -> str:
        return self.label or (self.name.replace("_", " ") + "s")

    @property
    def measure_name(self) -> str | None:
        return {"none": None, "duration": "seconds", "value": "value"}[self.measure]


class Attribute(_Strict):
    """An extra column of ``accounts`` that enters the model at its value on the snapshot date.

    A ``date`` attribute becomes the years between it and the snapshot (a date of birth becomes an age);
    ``feature`` names the model column (default: the attribute's name, or ``<name>_years`` for dates).
    """

    name: str
    type: AttributeType
    feature: str | None = None
    description: str = ""
    values: tuple[str, ...] | None = Field(
        default=None, description="For categorical attributes: the allowed values (null: any)."
    )
    unknown: UnknownPolicy = "quarantine"
    minimum: float | None = None
    maximum: float | None = None

    @field_validator("name", "feature")
    @classmethod
    def _identifier(cls, name: str | None) -> str | None:
        if name is not None and not IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a usable column name: lower-case letters, digits and _")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> Attribute:
        if self.name in RESERVED_ACCOUNT_COLUMNS:
            raise ValueError(f"{self.name!r} is already a column of accounts; attributes add new columns")
        if self.values is not None and self.type != "categorical":
            raise ValueError("values apply to categorical attributes only")
        if (self.minimum is not None or self.maximum is not None) and self.type != "numeric":
            raise ValueError("minimum and maximum apply to numeric attributes only")
        return self

    @property
    def feature_name(self) -> str:
        if self.feature:
            return self.feature
        return f"{self.name}_years" if self.type == "date" else self.name


class Sources(_Strict):
    """Which optional sources the company delivers; accounts, subscriptions and usage events always come."""

    invoices: bool = True
    support_tickets: bool = True
    nps_responses: bool = True


class CsvDialect(_Strict):
    """How a company's CSV exports are written. UTF-8 (a byte-order mark is ignored), RFC 4180 quoting."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    decimal_mark: Literal[".", ","] = "."
    quote: str = Field(default='"', min_length=1, max_length=1)
    date_format: str | None = Field(
        default=None, description="strptime format of dates when not ISO 8601, e.g. '%d/%m/%Y'."
    )
    timestamp_format: str | None = Field(
        default=None,
        description="strptime format of timestamps when not ISO 8601 (offsets and epoch seconds are read anyway).",
    )

    @model_validator(mode="after")
    def _distinct(self) -> CsvDialect:
        if self.delimiter == self.quote:
            raise ValueError("delimiter and quote must differ")
        if self.delimiter == self.decimal_mark:
            raise ValueError(
                f"the delimiter {self.delimiter!r} is also the decimal mark: European exports use ';' with ','"
            )
        return self


class FileFormats(_Strict):
    """CSV dialect of every export, with per-source exceptions (e.g. a billing system exporting with ';')."""

    csv: CsvDialect = CsvDialect()
    per_source: dict[str, CsvDialect] = Field(default_factory=dict)

    @field_validator("per_source")
    @classmethod
    def _known_sources(cls, per_source: dict[str, CsvDialect]) -> dict[str, CsvDialect]:
        unknown = sorted(set(per_source) - set(ALL_SOURCE_NAMES))
        if unknown:
            raise ValueError(
                f"unknown source {', '.join(unknown)}; sources are {', '.join(ALL_SOURCE_NAMES)}"
            )
        return per_source

    def dialect(self, source: str) -> CsvDialect:
        return self.per_source.get(source, self.csv)


EXPORT_PRESETS_DIR = PROFILES_DIR / "exports"
# Months per billing interval, as exports name them (Stripe: day, week, month, year).
DEFAULT_INTERVAL_MONTHS: dict[str, float] = {"day": 12 / 365, "week": 12 / 52, "month": 1.0, "year": 12.0}


class MonthlyAmount(_Strict):
    """A recurring price turned into a monthly amount: amount x quantity / months of its billing interval
    (a yearly price of 1200 for 2 seats is 200 a month). An interval the mapping does not know quarantines the
    row (``mrr: not a valid decimal``, the value naming the interval)."""

    quantity: str | None = Field(default=None, description="export column multiplying the amount (seats)")
    interval: str = Field(description="export column naming the billing interval (month, year, ...)")
    interval_count: str | None = Field(
        default=None, description="export column with the number of intervals per period (every 3 months)"
    )
    months: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_INTERVAL_MONTHS),
        description="interval value (case ignored) -> its length in months",
    )

    @field_validator("months")
    @classmethod
    def _positive(cls, months: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in months.items() if not v > 0)
        if bad:
            raise ValueError(f"months must be positive: {', '.join(bad)}")
        return months


class ExportMapping(_Strict):
    """How one source's export (a billing or helpdesk system's own CSV) maps onto the contract, so it lands
    without a script: columns renamed, values mapped, dates parsed with a format, amounts scaled or made
    monthly, constants for contract columns the export lacks. Applied by ingestion before typing
    (``churn_platform.lib.mappings``).

    ``preset`` starts from a mapping shipped in ``churn_platform/profiles/exports/<preset>.yaml`` (a
    publicly documented export shape: ``stripe_subscriptions``, ``zendesk_tickets``, ...); the keys given
    here are merged over it (per contract column), so a company adds only what is its own (its price ids).
    """

    preset: str | None = Field(default=None, description="a shipped mapping this one starts from")
    columns: dict[str, str | tuple[str, ...]] = Field(
        default_factory=dict,
        description="contract column -> the export's column name (as in its header); a list: the first "
        "non-empty of those the export has (exports whose column names changed between versions)",
    )
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="contract column -> {export value: contract value}; others kept"
    )
    formats: dict[str, str] = Field(
        default_factory=dict, description="contract date/timestamp column -> strptime format of the export"
    )
    scale: dict[str, float] = Field(
        default_factory=dict, description="contract decimal column -> factor (e.g. 0.01 for amounts in cents)"
    )
    defaults: dict[str, str] = Field(
        default_factory=dict,
        description="contract column -> constant text, for columns the export lacks or leaves empty",
    )
    latest: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="contract date/timestamp column -> export columns; the latest of them (e.g. updated_at "
        "from created, canceled and ended when the export has no modification time)",
    )
    monthly: dict[str, MonthlyAmount] = Field(
        default_factory=dict, description="contract decimal column -> how its amount becomes monthly"
    )
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("preset"):
            return data
        name = str(data["preset"])
        base = load_export_preset(name)
        merged: dict[str, Any] = dict(base)
        for key, value in data.items():
            if key in ("values",) and isinstance(value, dict):
                values = {k: dict(v) for k, v in base.get("values", {}).items()}
                for column, table in value.items():
                    values[column] = {**values.get(column, {}), **(table or {})}
                merged["values"] = values
            elif isinstance(value, dict) and isinstance(base.get(key), dict):
                merged[key] = {**base[key], **value}
            else:
                merged[key] = value
        merged["preset"] = name
        return merged


def export_presets() -> list[str]:
    """Names of the export mappings shipped with the platform."""
    return sorted(p.stem for p in EXPORT_PRESETS_DIR.glob("*.yaml"))


def load_export_preset(name: str) -> dict[str, Any]:
    """The raw document of a shipped export mapping; errors name the preset and the shipped ones."""
    path = EXPORT_PRESETS_DIR / f"{name}.yaml"
    if not IDENTIFIER.match(name) or not path.exists():
        raise ValueError(
            f"no export preset named {name!r}; shipped presets are {', '.join(export_presets())}"
        )
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or "preset" in doc:
        raise ValueError(f"{path}: an export preset is a mapping without a preset key of its own")
    return doc


ConnectorKind = Literal["postgresql"]


class ConnectorTable(_Strict):
    """One table of the company's application database, landed as one contract source."""

    table: str = Field(min_length=1, description="table name in the database schema")
    source: str = Field(description="the contract source its rows are")
    mapping: ExportMapping = Field(
        default_factory=ExportMapping,
        description="how its columns map onto the contract (columns, values, ...: as for exports)",
    )
    cursor: str | None = Field(
        default=None,
        description="the table column that grows when a row changes; default: the column mapped to the "
        "source's updated_at (append-only sources without one must name it, e.g. created_at)",
    )
    primary_key: str | None = Field(
        default=None, description="the table's key column; default: the column mapped to the source's key"
    )

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        if source not in ALL_SOURCE_NAMES:
            raise ValueError(f"unknown source {source!r}; sources are {', '.join(ALL_SOURCE_NAMES)}")
        return source


class DatabaseConnector(_Strict):
    """The company's application database, read incrementally by an updated-at cursor (see the README's
    Connectors section). Its URL is a secret setting (``CHURN_SOURCE_DATABASE_URL``), never in the profile."""

    kind: ConnectorKind = "postgresql"
    schema_name: str = Field(default="public", alias="schema", min_length=1)
    tables: tuple[ConnectorTable, ...] = Field(min_length=1)
    chunk_size: int = Field(default=50_000, ge=100, description="rows per extracted Parquet chunk")
    cron: str = Field(
        default="0 * * * *",
        pattern=r"^\S+( \S+){4}$",
        description="when the extraction runs (cron, UTC); the landing sensor ingests what it lands",
    )
    lag_seconds: float | None = Field(
        default=None,
        ge=0,
        description="re-read rows whose cursor lies this far behind the last one seen (for transactions "
        "committed late); unchanged rows re-read land again and staging keeps one",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_table_per_source(self) -> DatabaseConnector:
        sources = [t.source for t in self.tables]
        dupes = sorted({s for s in sources if sources.count(s) > 1})
        if dupes:
            raise ValueError(f"more than one table lands as {', '.join(dupes)}: one table per source")
        tables = [t.table for t in self.tables]
        dupes = sorted({t for t in tables if tables.count(t) > 1})
        if dupes:
            raise ValueError(f"table(s) listed twice: {', '.join(dupes)}")
        return self


class Connectors(_Strict):
    """Systems the platform reads by itself, landing into the same raw tables as delivered files."""

    database: DatabaseConnector | None = None


class Contact(_Strict):
    """How customers may be reached: which consent column allows each channel, and the defaults for
    accounts without a language or a time zone (templates and quiet hours use them).

    ``consent`` maps a channel of the delivery registry (``email``, ``sms``, ``in_app``, ``team_task``) to
    one of the consent columns of accounts; a channel left out uses its own (email and team tasks
    ``marketing_consent``, sms ``sms_consent``, in-app ``push_consent``).
    """

    consent: dict[str, str] = Field(default_factory=dict)
    default_language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    default_time_zone: str = "UTC"

    @field_validator("consent")
    @classmethod
    def _consent_columns(cls, consent: dict[str, str]) -> dict[str, str]:
        for channel, column in consent.items():
            if column not in CONSENT_COLUMNS:
                raise ValueError(
                    f"{channel}: {column!r} is not a consent column; use one of {', '.join(CONSENT_COLUMNS)}"
                )
        return consent

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return zone


class CompanyProfile(_Strict):
    """What one company's data looks like; see the README's "Bring your own company" section."""

    version: str = Field(min_length=1)
    name: str = Field(min_length=1)
    description: str = ""
    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of MRR and amounts."
    )
    sources: Sources = Sources()
    vocabularies: dict[str, Vocabulary] = Field(default_factory=dict)
    event_types: tuple[EventType, ...] = Field(min_length=1)
    attributes: tuple[Attribute, ...] = ()
    files: FileFormats = FileFormats()
    exports: dict[str, ExportMapping] = Field(
        default_factory=dict, description="source -> how that source's export maps onto the contract"
    )

    contact: Contact = Contact()
    connectors: Connectors = Connectors()
    simulation: dict[str, Any] | None = Field(
        default=None,
        description="How the simulator makes this company (only for simulated companies; see simulate/).",
    )

    @field_validator("vocabularies")
    @classmethod
    def _known_vocabularies(cls, vocabularies: dict[str, Vocabulary]) -> dict[str, Vocabulary]:
        unknown = sorted(set(vocabularies) - set(VOCABULARY_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown vocabulary {', '.join(unknown)}; the platform knows {', '.join(VOCABULARY_COLUMNS)}"
            )
        change = vocabularies.get("change_type")
        if change is not None:
            if change.values is None:
                raise ValueError("change_type needs its values (at least the standard ones)")
            missing = [c for c in STANDARD_CHANGE_TYPES if c not in change.values]
            if missing:
                raise ValueError(
                    f"change_type must include {', '.join(STANDARD_CHANGE_TYPES)}; missing {', '.join(missing)}"
                )
        status = vocabularies.get("invoice_status")
        if status is not None and (status.values is None or set(INVOICE_STATUSES) - set(status.values)):
            raise ValueError(f"invoice_status must include {', '.join(INVOICE_STATUSES)}")
        return vocabularies

    @field_validator("exports")
    @classmethod
    def _known_export_sources(cls, exports: dict[str, ExportMapping]) -> dict[str, ExportMapping]:
        unknown = sorted(set(exports) - set(ALL_SOURCE_NAMES))
        if unknown:
            raise ValueError(
                f"unknown source {', '.join(unknown)}; sources are {', '.join(ALL_SOURCE_NAMES)}"
            )
        return exports

    @model_validator(mode="after")
    def _mappings_fit_the_contract(self) -> CompanyProfile:
        from churn_platform.contract import contract_for
        from churn_platform.lib.mappings import MappingError, check_mapping

        database = self.connectors.database
        fed = {t.source: t for t in database.tables} if database else {}
        both = sorted(set(fed) & set(self.exports))
        if both:
            raise ValueError(
                f"{', '.join(both)}: fed by connectors.database and mapped in exports; a source has one shape "
                "in the landing folder (the connector lands contract columns): drop one"
            )
        contract = contract_for(self)
        problems = []
        for name, mapping in self.exports.items():
            try:
                check_mapping(mapping, contract.sources[name])
            except MappingError as exc:
                problems.append(f"exports.{name}: {exc}")
        for i, table in enumerate(database.tables if database else ()):
            source = contract.sources[table.source]
            try:
                check_mapping(table.mapping, source)
            except MappingError as exc:
                problems.append(f"connectors.database.tables.{i}: {exc}")
            if table.cursor is None and source.updated_at is None:
                problems.append(
                    f"connectors.database.tables.{i}: {table.source} has no updated_at: name the table's "
                    "cursor column (one that grows with every new or changed row)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _distinct_names(self) -> CompanyProfile:
        names = [e.name for e in self.event_types]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"event_types repeat: {', '.join(dupes)}")
        attrs = [a.name for a in self.attributes]
        dupes = sorted({n for n in attrs if attrs.count(n) > 1})
        if dupes:
            raise ValueError(f"attributes repeat: {', '.join(dupes)}")
        feats = [a.feature_name for a in self.attributes]
        clash = sorted({f for f in feats if feats.count(f) > 1})
        if clash:
            raise ValueError(f"attribute features repeat: {', '.join(clash)}")
        return self

    # ------------------------------------------------------------------ derived facts

    def vocabulary(self, name: str) -> Vocabulary:
        """The vocabulary of a kind of column; the platform's default when the profile leaves it out."""
        if name not in VOCABULARY_COLUMNS:
            raise KeyError(f"unknown vocabulary {name!r}")
        found = self.vocabularies.get(name)
        if found is not None:
            return found
        if name == "change_type":
            return Vocabulary(values=STANDARD_CHANGE_TYPES)
        if name == "invoice_status":
            return Vocabulary(values=INVOICE_STATUSES)
        return Vocabulary()

    def allowed_values(self, name: str) -> tuple[str, ...] | None:
        """Canonical values a column of this vocabulary may hold after normalisation (``other`` included
        when unknown values map to it); None when any value is accepted."""
        vocab = self.vocabulary(name)
        values = vocab.values
        if values is None and name == "country":
            values = _iso_countries()
        if values is None:
            return None
        if vocab.unknown == "other" and OTHER not in values:
            values = (*values, OTHER)
        return values

    @property
    def event_type_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.event_types)

    def event_type(self, name: str) -> EventType:
        for e in self.event_types:
            if e.name == name:
                return e
        raise KeyError(f"the profile has no event type {name!r}")

    def delivers(self, source: str) -> bool:
        """Whether the company delivers this source (core sources always)."""
        if source in OPTIONAL_SOURCES:
            return bool(getattr(self.sources, source))
        return True

    def dbt_vars(self) -> dict[str, Any]:
        """What dbt needs to know of the company (``--vars``): event types, attributes, delivered sources,
        and the behaviour feature columns :func:`behaviour_features` names (which a dbt test compares
        ``fct_behaviour_features`` against, since no contract can be enforced on profile-made columns)."""
        return {
            "company_profile": self.name,
            "event_types": [
                {"name": e.name, "measure": e.measure_name, "features": list(e.features)}
                for e in self.event_types
            ],
            "customer_attributes": [
                {"name": a.name, "type": a.type, "feature": a.feature_name} for a in self.attributes
            ],
            "delivered_sources": [s for s in ALL_SOURCE_NAMES if self.delivers(s)],
            "behaviour_features": [f.name for f in behaviour_features(self)],
        }


ALL_SOURCE_NAMES = (
    "accounts",
    "subscriptions",
    "invoices",
    "usage_events",
    "support_tickets",
    "nps_responses",
)


def resolve_profile_path(ref: str | os.PathLike[str] | None = None) -> Path:
    """A profile reference (a file path, or the name of a shipped profile) as a path; default from the env."""
    raw = str(ref) if ref is not None else os.environ.get(PROFILE_ENV, "") or DEFAULT_PROFILE
    path = Path(raw).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists() or os.sep in raw:
        return path.resolve()
    shipped = PROFILES_DIR / f"{raw}.yaml"
    if not shipped.exists():
        names = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise ProfileError(f"no company profile named {raw!r}: give a path to a YAML file, or one of {names}")
    return shipped


def load_profile(ref: str | os.PathLike[str] | None = None) -> CompanyProfile:
    """Read and validate a company profile; errors name the file and the key path (``a.b``)."""
    path = resolve_profile_path(ref)
    return _load_cached(str(path), path.stat().st_mtime if path.exists() else 0.0)


@functools.lru_cache(maxsize=16)
def _load_cached(path_str: str, _mtime: float) -> CompanyProfile:
    path = Path(path_str)
    if not path.exists():
        raise ProfileError(f"company profile {path} does not exist (set {PROFILE_ENV} to a file or a name)")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ProfileError(f"{path}: expected a mapping at the top level")
    try:
        return CompanyProfile.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise ProfileError(f"{path}: {problems}") from exc


def active_profile() -> CompanyProfile:
    """The profile this process runs on (``CHURN_COMPANY_PROFILE``, default the simulator's company)."""
    return load_profile(None)


# ---------------------------------------------------------------------- behaviour features

FeatureKind = Literal["count_30d", "count_prev_30d", "change_pct", "days_since_last", "per_active_day"]
TOTAL_FEATURES: tuple[str, ...] = (
    "events_30d",
    "events_prev_30d",
    "events_change_pct",
    "active_days_30d",
    "days_since_last_event",
    "events_30d_tenure_scaled",
)


class BehaviourFeature(BaseModel):
    """One model column derived from the usage events (dbt's ``fct_behaviour_features`` builds it).

    Windows are [S - 30, S) and [S - 60, S - 30) for snapshot S. ``event_type`` None means all events.
    ``measure`` None means counts; ``seconds`` or ``value`` means the summed measure.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    kind: FeatureKind | Literal["active_days", "tenure_scaled"]
    event_type: str | None = None
    measure: str | None = None


def behaviour_features(profile: CompanyProfile) -> list[BehaviourFeature]:
    """Every behaviour feature column the profile implies, in the order dbt writes them.

    Per event type ``t`` (as its ``features`` select; ``m`` its measure, ``seconds`` or ``value``):
    ``count``: ``t_30d``, ``t_prev_30d`` (and ``t_m_30d``, ``t_m_prev_30d``); ``change``: ``t_change_pct``
    (and ``t_m_change_pct``), 100 x (last 30 days - the 30 before) / the 30 before, null when the 30 before
    had none; ``recency``: ``days_since_last_t``, null when never seen; ``per_active_day``:
    ``t_per_active_day`` (and ``t_m_per_active_day``), over the days with any event in the last 30.
    Across all types: ``events_30d``, ``events_prev_30d``, ``events_change_pct``, ``active_days_30d``,
    ``days_since_last_event`` and ``events_30d_tenure_scaled`` (events in the last 30 days x 30 / days of
    tenure within them, for customers younger than 30 days).
    """
    out = [
        BehaviourFeature(name="events_30d", kind="count_30d"),
        BehaviourFeature(name="events_prev_30d", kind="count_prev_30d"),
        BehaviourFeature(name="events_change_pct", kind="change_pct"),
        BehaviourFeature(name="active_days_30d", kind="active_days"),
        BehaviourFeature(name="days_since_last_event", kind="days_since_last"),
        BehaviourFeature(name="events_30d_tenure_scaled", kind="tenure_scaled"),
    ]
    for e in profile.event_types:
        t, m = e.name, e.measure_name
        prefixes: list[tuple[str, str | None]] = [(t, None)] + ([(f"{t}_{m}", m)] if m else [])
        if "count" in e.features:
            for p, meas in prefixes:
                out.append(BehaviourFeature(name=f"{p}_30d", kind="count_30d", event_type=t, measure=meas))
                out.append(
                    BehaviourFeature(name=f"{p}_prev_30d", kind="count_prev_30d", event_type=t, measure=meas)
                )
        if "change" in e.features:
            for p, meas in prefixes:
                out.append(
                    BehaviourFeature(name=f"{p}_change_pct", kind="change_pct", event_type=t, measure=meas)
                )
        if "recency" in e.features:
            out.append(BehaviourFeature(name=f"days_since_last_{t}", kind="days_since_last", event_type=t))
        if "per_active_day" in e.features:
            for p, meas in prefixes:
                out.append(
                    BehaviourFeature(
                        name=f"{p}_per_active_day", kind="per_active_day", event_type=t, measure=meas
                    )
                )
    return out


def attribute_features(profile: CompanyProfile) -> list[str]:
    """The model columns of the customer attributes (``fct_attribute_features``), in profile order."""
    return [a.feature_name for a in profile.attributes]
