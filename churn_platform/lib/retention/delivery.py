"""Delivering campaigns: the treated decisions become ledger rows, and each is checked again just before it goes.

Every treated target first gets a ``pending`` row in the send ledger keyed by (customer, campaign, wave): a
key that exists is never inserted again, so a re-run cannot queue a customer twice. The delivery loop
(:mod:`churn_platform.lib.delivery.loop`) then sends each pending row through its channel's provider and
settles unknown outcomes from the provider's record before anything is sent again.

Just before each message, :class:`CampaignMessages` reads the customer's current state from the warehouse
and refuses to send (``skipped`` with its reason) when:

- ``in_control``: the customer is in the campaign's control group;
- ``unsubscribed``: they unsubscribed from everything;
- ``consent_withdrawn``: the channel's consent column (the profile's ``contact.consent``) is no longer true;
- ``suppressed``: the provider said the address must not be used again (bounce, spam report, STOP);
- ``cooldown``: another campaign reached them within the policy's cooldown.

An address that is missing or unusable (a list, a line break, not E.164) fails that message with its reason;
text and push messages wait out the customer's local quiet hours. Messages are rendered from
``message_templates.yaml`` in the customer's language, with the offer and the customer-facing reason in it.

``with_retries`` and ``post_json`` are shared with the operational alerts (``churn_platform.lib.alerts``).
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import duckdb
import pandas as pd

from churn_platform.lib.delivery import safety
from churn_platform.lib.delivery.channels import (
    OutboxChannel,
    SendGridChannel,
    channel_kind,
    consent_column,
    post_json,
)
from churn_platform.lib.delivery.core import (
    Channel,
    Message,
    OutcomeUnknownError,
    Outgoing,
    PermanentError,
    TransientError,
)
from churn_platform.lib.delivery.loop import (
    Defer,
    DeliveryLoop,
    DeliveryReport,
    Prepared,
    Skip,
    ensure_ledger,
    message_key,
)
from churn_platform.lib.delivery.templates import MessageTemplates, load_templates, render_html, render_text
from churn_platform.lib.retention.policy import RetentionPolicy

__all__ = [
    "ALERT_TEMPLATE", "CampaignMessages", "DeliveryReport", "Message", "OutboxSender", "Outgoing",
    "PermanentError", "SendGridSender", "Sender", "TransientError", "deliver_pending", "ensure_ledger",
    "post_json", "queue_targets", "with_retries",
]  # fmt: skip

ALERT_TEMPLATE = "alert"
"""The template name of operational alerts (``churn_platform.lib.alerts``)."""


class Sender(Protocol):
    """An email provider as the alerts use it: send, and recognise a message already sent (or None)."""

    def send(self, message: Outgoing) -> str: ...

    def already_sent(self, message: Outgoing) -> str | None: ...


class OutboxSender(OutboxChannel):
    """The local ``.eml`` outbox (the email channel's default provider)."""

    def __init__(self, folder: Path, from_email: str = "success@churn-platform.local") -> None:
        super().__init__("email", folder, from_email)


class SendGridSender(SendGridChannel):
    """SendGrid as an alert ``Sender``: it cannot tell a sent message from its own record at send time."""

    def already_sent(self, message: Outgoing) -> str | None:
        return None


def queue_targets(con: duckdb.DuckDBPyConnection, targets: pd.DataFrame) -> int:
    """Insert a pending ledger row for each treated target whose key is new; returns how many were new."""
    ensure_ledger(con)
    treat = targets[targets["decision"] == "treat"]
    if treat.empty:
        return 0
    now = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    rows = treat.assign(
        status="pending", attempts=0, message_id=None, last_error=None, created_at=now, sent_at=None,
        channel=[channel_kind(str(c)).name for c in treat["channel"]],
        message_key=[message_key(c, u, int(w)) for c, u, w in
                     zip(treat["campaign_id"], treat["customer_id"], treat["wave"], strict=True)],
    )  # fmt: skip
    cols = [
        "customer_id", "campaign_id", "wave", "channel", "intervention", "playbook", "template", "snapshot_date",
        "risk_tier", "churn_probability", "model_version", "policy_version", "retention_policy_version", "status",
        "attempts", "message_id", "last_error", "created_at", "sent_at", "message_key",
    ]  # fmt: skip
    con.register("incoming", rows[cols])
    before = con.execute("select count(*) from retention.send_ledger").fetchall()[0][0]
    con.execute(
        f"insert into retention.send_ledger ({', '.join(cols)}) select {', '.join(cols)} from incoming "
        "on conflict do nothing"
    )
    con.unregister("incoming")
    after = con.execute("select count(*) from retention.send_ledger").fetchall()[0][0]
    return int(after - before)


CONTACT_COLUMNS = (
    "company_name", "email", "phone", "language", "time_zone", "account_manager", "is_unsubscribed",
    "marketing_consent", "sms_consent", "push_consent",
)  # fmt: skip


def _local_quiet(
    now_utc: dt.datetime, zone: zoneinfo.ZoneInfo, start: dt.time, end: dt.time
) -> dt.datetime | None:
    """When the quiet window the customer is in ends (UTC, naive), or None outside it."""
    local = now_utc.replace(tzinfo=dt.UTC).astimezone(zone)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() + dt.timedelta(days=1 if (start > end and t >= start) else 0)
    until = dt.datetime.combine(day, end, tzinfo=zone)
    return until.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass
class CampaignMessages:
    """Turns a pending campaign ledger row into its message, or says why it may not go now.

    Reads, per message and just before sending, the decision (``retention.decisions``), the customer's contact
    state (``dim_customers``), the suppressions and the other campaigns' sends. ``consent`` is the profile's
    channel -> consent column mapping; ``default_time_zone`` and ``company`` come from the profile and settings.
    """

    con: duckdb.DuckDBPyConnection
    policy: RetentionPolicy
    templates: MessageTemplates = field(default_factory=load_templates)
    consent: Mapping[str, str] = field(default_factory=dict)
    default_time_zone: str = "UTC"
    default_language: str | None = None
    company: str = "Customer Success"
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))

    def __post_init__(self) -> None:
        have = {r[0] for r in self.con.execute("describe dim_customers").fetchall()}
        self._columns = [c for c in CONTACT_COLUMNS if c in have]

    def _customer(self, customer_id: str) -> dict[str, Any] | None:
        select = ", ".join(self._columns) or "1 as present"
        found = self.con.execute(
            f"select {select} from dim_customers where customer_id = ?", [customer_id]
        ).fetchall()
        if not found:
            return None
        names = self._columns or ["present"]
        return dict(zip(names, found[0], strict=True))

    def _decision(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.con.execute(
            "select * from retention.decisions where customer_id = ? and campaign_id = ? "
            "order by snapshot_date desc limit 1",
            [row["customer_id"], row["campaign_id"]],
        ).df()
        if found.empty:
            return None
        return {str(k): (None if v is None or v != v else v) for k, v in found.iloc[0].to_dict().items()}

    def _suppressed(self, channel: str, address: str) -> str | None:
        found = self.con.execute(
            "select reason from retention.suppressions where channel = ? and address = ?",
            [channel, address.lower()],
        ).fetchall()
        return str(found[0][0]) if found else None

    def _contacted_elsewhere(self, row: Mapping[str, Any], since: dt.datetime) -> bool:
        found = self.con.execute(
            "select count(*) from retention.send_ledger where customer_id = ? and campaign_id <> ? "
            "and status in ('sent', 'sending', 'unknown') and coalesce(sent_at, requested_at) >= ?",
            [row["customer_id"], row["campaign_id"], since],
        ).fetchall()
        return bool(found[0][0])

    def __call__(self, row: dict[str, Any]) -> Prepared:
        kind = channel_kind(str(row["channel"]))
        decision = self._decision(row)
        if decision is None:
            return Skip("no_decision: the campaign has no decision for this customer")
        if decision.get("decision") == "control":
            return Skip("in_control")
        if decision.get("decision") != "treat":
            return Skip(f"not_treated: {decision.get('decision')}")
        who = self._customer(str(row["customer_id"]))
        if who is None:
            return Skip("unknown_customer: not in dim_customers")
        if who.get("is_unsubscribed") is not False:
            return Skip("unsubscribed")
        column = consent_column(kind.name, self.consent)
        if who.get(column) is not True:
            return Skip(f"consent_withdrawn: {column} is not true")
        decided = pd.Timestamp(decision.get("decided_on") or row["snapshot_date"]).to_pydatetime()
        if self._contacted_elsewhere(row, decided - dt.timedelta(days=self.policy.cooldown_days)):
            return Skip("cooldown: another campaign reached the customer within the cooldown")
        address_value = (
            row["customer_id"] if kind.address_column == "customer_id" else who.get(kind.address_column)
        )
        address = kind.address(address_value)  # InvalidAddressError fails this message with its reason
        suppressed = self._suppressed(kind.name, address)
        if suppressed:
            return Skip(f"suppressed: {suppressed}")
        name = safety.clean_text(who.get("company_name") or "", "name")
        rules = self.policy.channels.get(kind.name)
        if kind.quiet_hours and rules is not None and rules.quiet_hours is not None:
            until = _local_quiet(self.clock(), self._zone(who.get("time_zone")), *rules.quiet_hours.window)
            if until is not None:
                return Defer(until, f"quiet_hours: waits until {until:%Y-%m-%d %H:%M} UTC")
        return self.render(row, decision, who, kind.name, address, name)

    def _zone(self, value: object) -> zoneinfo.ZoneInfo:
        for candidate in (value, self.default_time_zone, "UTC"):
            try:
                return zoneinfo.ZoneInfo(str(candidate))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
                continue
        return zoneinfo.ZoneInfo("UTC")

    def render(
        self, row: Mapping[str, Any], decision: Mapping[str, Any], who: Mapping[str, Any], channel: str,
        address: str, name: str,
    ) -> Outgoing:  # fmt: skip
        """The message in the customer's language (tasks in the team's), escaped where it is HTML."""
        team = channel == "team_task"
        default = self.default_language or self.templates.default_language
        language = self.templates.language_of(default if team else (who.get("language") or default))
        intervention = self.policy.interventions.get(str(decision.get("intervention")))
        offer = intervention.offer_in(language) if intervention else str(decision.get("offer") or "")
        reason = self.templates.reason(decision.get("factor"), language)
        due = pd.Timestamp(row["snapshot_date"]) + pd.Timedelta(days=int(decision.get("timeline_days") or 3))
        values = {"name": name, "offer": offer, "reason": reason, "company": self.company,
                  "playbook": row.get("playbook") or "", "due_on": due.date().isoformat()}  # fmt: skip
        key = message_key(str(row["campaign_id"]), str(row["customer_id"]), int(row["wave"]))
        data = {"name": name, "offer": offer, "reason_text": reason, "campaign": row["campaign_id"],
                "customer_id": row["customer_id"], "language": language}  # fmt: skip
        base = {"key": key, "to": address, "to_name": name, "template": str(row.get("template") or ""),
                "language": language, "channel": channel}  # fmt: skip
        if team:
            task = self.templates.task
            data |= {"campaign_id": row["campaign_id"], "wave": int(row["wave"]), "due_on": values["due_on"],
                     "account_manager": who.get("account_manager")}  # fmt: skip
            return Outgoing(**base, subject=render_text(task.title, values),
                            text=render_text(task.details, values), data=data)  # fmt: skip
        texts = self.templates.localized(row.get("template"), language)
        if channel == "sms":
            return Outgoing(**base, text=render_text(texts.sms, values), data=data)
        if channel == "in_app":
            return Outgoing(**base, subject=render_text(texts.push_title, values),
                            text=render_text(texts.push_body, values), data=data)  # fmt: skip
        subject = " ".join(render_text(texts.subject, values).split())
        return Outgoing(**base, subject=subject, text=render_text(texts.body, values),
                        html=render_html(texts.body, values), data=data)  # fmt: skip


def deliver_pending(
    con: duckdb.DuckDBPyConnection,
    channels: Mapping[str, Channel],
    policy: RetentionPolicy,
    *,
    templates: MessageTemplates | None = None,
    consent: Mapping[str, str] | None = None,
    default_time_zone: str = "UTC",
    default_language: str | None = None,
    events_dir: Path | None = None,
    max_attempts: int = 5,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], dt.datetime] | None = None,
    on_message: Callable[[int], None] | None = None,
) -> DeliveryReport:
    """Work through the ledger's pending (and unknown) rows; each outcome is committed before the next."""
    now = clock or (lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    prepare = CampaignMessages(
        con, policy, templates or load_templates(), dict(consent or {}), default_time_zone,
        default_language, clock=now,
    )  # fmt: skip
    loop = DeliveryLoop(
        con, channels, prepare, events_dir=events_dir, max_attempts=max_attempts,
        backoff_seconds=backoff_seconds, sleep=sleep, clock=now, on_message=on_message,
    )  # fmt: skip
    return loop.run()


T = TypeVar("T")


@dataclass
class Attempted(Generic[T]):
    """What ``with_retries`` got: the value (None unless it succeeded) and every error on the way."""

    value: T | None
    attempts: int
    transient_errors: list[str] = field(default_factory=list)
    permanent_error: str | None = None

    @property
    def error(self) -> str | None:
        """The reason to record: the refusal, else the last transient error (also kept after a late success)."""
        if self.permanent_error is not None:
            return self.permanent_error
        return self.transient_errors[-1] if self.transient_errors else None


def with_retries(
    action: Callable[[], T],
    max_attempts: int = 5,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempted[T]:
    """Call ``action`` until it succeeds, retrying ``TransientError`` (and ``OutcomeUnknownError``: the alerts'
    channels repeat rather than lose) with exponential backoff.

    A ``PermanentError`` stops at once (retrying a refusal only repeats it). Nothing is raised: the caller
    decides what a failure means for its ledger.
    """
    tried: Attempted[T] = Attempted(value=None, attempts=0)
    while tried.attempts < max_attempts:
        tried.attempts += 1
        try:
            tried.value = action()
            return tried
        except (TransientError, OutcomeUnknownError) as exc:  # alerts prefer a rare repeat to a lost alert
            tried.transient_errors.append(str(exc))
            if tried.attempts < max_attempts:
                sleep(backoff_seconds * 2 ** (tried.attempts - 1))
        except PermanentError as exc:
            tried.permanent_error = str(exc)
            return tried
    return tried
