"""The one delivery loop: every channel's messages go through the send ledger the same way.

Ledger states (``retention.send_ledger.status``)::

    pending --(checks fail)--> skipped (reason)          the customer may not be contacted now
    pending --(bad address)--> failed (reason)           this message cannot be sent; the others go on
    pending --(quiet hours)--> pending, not_before set   sent on a later run
    pending --> sending --(accepted)--> sent (message id)
                        --(429/503, refused connection; retried with backoff)--> pending
                        --(4xx)--> failed (reason)
                        --(timeout, dropped connection, 500/502/504)--> unknown
    sending (found at start: the process died mid-request) --> unknown
    unknown --(provider's record: accepted)--> sent
            --(provider's record: not accepted, after its settle window)--> pending (sent again)
            --(no verdict yet)--> unknown

``sending`` is committed before the request leaves, so a process killed at any point leaves either a row
that was never requested (``pending``) or one whose outcome is looked up before anything is sent again.
Each outcome is committed before the next message is touched. Provider events (delivered, bounced, ...) are
loaded at the start of each run (:mod:`.events`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from churn_platform.lib.delivery.channels import ALIASES
from churn_platform.lib.delivery.core import (
    Channel,
    OutcomeUnknownError,
    Outgoing,
    PermanentError,
    TransientError,
)
from churn_platform.lib.delivery.events import ensure_event_tables, events_for, load_events

LEDGER_DDL = """
create schema if not exists retention;
create table if not exists retention.send_ledger (
    customer_id varchar not null,
    campaign_id varchar not null,
    wave integer not null,
    channel varchar, intervention varchar, playbook varchar, template varchar,
    snapshot_date date, risk_tier varchar, churn_probability double,
    model_version varchar, policy_version varchar, retention_policy_version varchar,
    status varchar not null,            -- pending | sending | unknown | sent | failed | skipped
    attempts integer default 0,
    message_id varchar, last_error varchar,
    created_at timestamp, sent_at timestamp,
    primary key (customer_id, campaign_id, wave)
);
"""

LEDGER_COLUMNS = {
    "message_key": "varchar",  # <campaign_id>|<customer_id>|<wave>: what providers carry back
    "reason": "varchar",  # why skipped, failed, deferred or unknown
    "not_before": "timestamp",  # deferred (quiet hours) until then (UTC)
    "requested_at": "timestamp",  # when the last request left (UTC)
    "content": "varchar",  # the message as sent (JSON), to reconcile and to audit
    "provider": "varchar",
    "provider_status": "varchar",  # the provider's latest event: delivered, bounce, undelivered, ...
    "provider_status_at": "timestamp",
}


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger, or bring an older one up to date (new columns, keys, channel names)."""
    for statement in LEDGER_DDL.split(";"):
        if statement.strip():
            con.execute(statement)
    for column, kind in LEDGER_COLUMNS.items():
        con.execute(f"alter table retention.send_ledger add column if not exists {column} {kind}")
    con.execute(
        "update retention.send_ledger set message_key = campaign_id || '|' || customer_id || '|' || wave "
        "where message_key is null"
    )
    for old, new in ALIASES.items():
        con.execute("update retention.send_ledger set channel = ? where channel = ?", [new, old])
    ensure_event_tables(con)


def message_key(campaign_id: str, customer_id: str, wave: int) -> str:
    return f"{campaign_id}|{customer_id}|{wave}"


@dataclass(frozen=True)
class Skip:
    """The message may not go (consent withdrawn, unsubscribed, suppressed, in control, cooldown, ...)."""

    reason: str


@dataclass(frozen=True)
class Defer:
    """Not now (quiet hours): pending until ``until`` (UTC, naive)."""

    until: dt.datetime
    reason: str


Prepared = Outgoing | Skip | Defer


@dataclass
class DeliveryReport:
    """What one run did. ``skipped`` and ``failed_reasons`` count by reason; ``sent_by_channel`` by channel."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    deferred: int = 0
    unknown: int = 0
    still_pending: int = 0
    recovered: int = 0
    resent_after_unknown: int = 0
    retries: int = 0
    tasks: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    sent_by_channel: Counter[str] = field(default_factory=Counter)
    failed_reasons: Counter[str] = field(default_factory=Counter)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class DeliveryLoop:
    """One run over the ledger. ``channels`` maps a channel name to its provider; ``prepare`` turns a
    pending ledger row into the message, or says why it may not go now (it is called just before each send,
    so it reads consent and the other rules fresh). Clock, sleep and channels are injected."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        channels: Mapping[str, Channel],
        prepare: Callable[[dict[str, Any]], Prepared],
        *,
        events_dir: Path | None = None,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = _now,
        on_message: Callable[[int], None] | None = None,
    ) -> None:
        self.con = con
        self.channels = {ALIASES.get(k, k): v for k, v in channels.items()}
        self.prepare = prepare
        self.events_dir = events_dir
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.clock = clock
        self.on_message = on_message
        self.report = DeliveryReport()

    # -------------------------------------------------------------------------------------- ledger writes

    def _update(self, row: dict[str, Any], **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        self.con.execute(
            f"update retention.send_ledger set {sets} where customer_id = ? and campaign_id = ? and wave = ?",
            [*values.values(), row["customer_id"], row["campaign_id"], row["wave"]],
        )

    def _rows(self, where: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        frame = self.con.execute(
            f"select * from retention.send_ledger where {where} order by campaign_id, customer_id, wave",
            params or [],
        ).df()
        return [
            {str(k): (None if v is None or v != v else v) for k, v in r.items()}
            for r in frame.to_dict("records")
        ]

    def _channel(self, row: dict[str, Any]) -> Channel | None:
        return self.channels.get(ALIASES.get(str(row["channel"]), str(row["channel"])))

    # -------------------------------------------------------------------------------------- the run

    def run(self) -> DeliveryReport:
        ensure_ledger(self.con)
        load_events(self.con, self.events_dir)
        self._update_where_sending()
        self.reconcile()
        pending = self._rows("status = 'pending' and (not_before is null or not_before <= ?)", [self.clock()])
        for i, row in enumerate(pending):
            self.deliver_one(row)
            if self.on_message:
                self.on_message(i)
        counts = dict(
            self.con.execute("select status, count(*) from retention.send_ledger group by 1").fetchall()
        )
        self.report.still_pending = int(counts.get("pending", 0))
        self.report.unknown = int(counts.get("unknown", 0))
        return self.report

    def _update_where_sending(self) -> None:
        """Rows left ``sending`` belong to a process that died mid-request: their outcome is unknown."""
        self.con.execute(
            "update retention.send_ledger set status = 'unknown', "
            "reason = 'the sending process ended during the request' where status = 'sending'"
        )

    def reconcile(self) -> None:
        """Decide every ``unknown`` row from the provider's record before anything is sent again."""
        for row in self._rows("status = 'unknown'"):
            channel = self._channel(row)
            if channel is None or not row.get("content"):
                continue
            message = Outgoing.from_record(json.loads(row["content"]))
            if channel.resend_when_unknown:
                self._update(
                    row, status="pending", reason="outcome unknown; the receiver deduplicates by key"
                )
                self.report.resent_after_unknown += 1
                continue
            requested = row.get("requested_at") or row.get("created_at") or self.clock()
            found = channel.reconcile(message, requested, self.clock(), events_for(self.con, message.key))
            if found.verdict == "accepted":
                self._update(
                    row, status="sent", message_id=found.message_id or row.get("message_id"),
                    sent_at=requested, reason=f"reconciled: {found.evidence}",
                )  # fmt: skip
                self.report.recovered += 1
                self.report.sent += 1
                self.report.sent_by_channel[str(channel.name)] += 1
            elif found.verdict == "not_accepted":
                self._update(row, status="pending", reason=f"reconciled, not accepted: {found.evidence}")
                self.report.resent_after_unknown += 1
            else:
                self._update(row, reason=f"unknown: {found.evidence}")

    def deliver_one(self, row: dict[str, Any]) -> None:
        channel = self._channel(row)
        if channel is None:
            self._update(row, reason=f"no provider for channel {row['channel']!r}")
            return
        try:
            prepared = self.prepare(row)
        except PermanentError as exc:
            self._fail(row, str(exc))
            return
        if isinstance(prepared, Skip):
            self._update(row, status="skipped", reason=prepared.reason)
            self.report.skipped[prepared.reason.split(":")[0]] += 1
            return
        if isinstance(prepared, Defer):
            self._update(row, not_before=prepared.until, reason=prepared.reason)
            self.report.deferred += 1
            return
        message = prepared
        for attempt in range(1, self.max_attempts + 1):
            now = self.clock()
            self._update(
                row, status="sending", requested_at=now, attempts=int(row.get("attempts") or 0) + attempt,
                content=json.dumps(message.as_record(), default=str), provider=channel.provider,
            )  # fmt: skip
            try:
                message_id = channel.send(message)
            except TransientError as exc:
                self._count_error(str(exc))
                if attempt < self.max_attempts:
                    self.report.retries += 1
                    self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                    continue
                self._update(row, status="pending", last_error=str(exc), reason=str(exc))
                self.report.still_pending += 1
                return
            except OutcomeUnknownError as exc:
                self._count_error(str(exc))
                if channel.resend_when_unknown and attempt < self.max_attempts:
                    self.report.retries += 1
                    self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                    continue
                status = "pending" if channel.resend_when_unknown else "unknown"
                self._update(row, status=status, last_error=str(exc), reason=str(exc))
                self.report.unknown += status == "unknown"
                return
            except PermanentError as exc:
                self._fail(row, str(exc))
                return
            except ValueError as exc:  # a message the provider's client could not even build
                self._fail(row, f"invalid_message: {exc}"[:300])
                return
            self._update(row, status="sent", message_id=message_id, sent_at=self.clock(), reason=None)
            self.report.sent += 1
            self.report.sent_by_channel[str(channel.name)] += 1
            if channel.name == "team_task":
                self.report.tasks += 1
            return

    def _fail(self, row: dict[str, Any], reason: str) -> None:
        self._update(row, status="failed", last_error=reason, reason=reason)
        self.report.failed += 1
        self.report.failed_reasons[reason.split(":")[0]] += 1

    def _count_error(self, text: str) -> None:
        kind = text.split(":")[0]
        self.report.errors[kind] = self.report.errors.get(kind, 0) + 1
