"""Delivering campaigns exactly once: a send ledger keyed by (customer, campaign, wave) in the warehouse.

Every treated target first gets a ``pending`` ledger row (a key that exists is never inserted again, so a
re-run cannot queue a customer twice). Delivery then works through the pending rows and commits each
outcome as soon as it is known: ``sent`` with the provider's message id, or ``failed`` with the reason for a
permanent error. 429, 5xx and timeouts are retried with exponential backoff; a row still pending after its
retries stays pending for the next run. Account-manager tasks go to a tasks table (and a webhook when set).

What "exactly once" rests on: the local outbox names each message by its ledger key, so a message written
before a crash is recognised after it. SendGrid has no idempotency key; the retried failures are those where
it answered 429/5xx (nothing accepted) or did not answer at all. The API key is never logged or stored.
"""

from __future__ import annotations

import datetime as dt
import email.message
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd

LEDGER_DDL = """
create schema if not exists retention;
create table if not exists retention.send_ledger (
    customer_id varchar not null,
    campaign_id varchar not null,
    wave integer not null,
    channel varchar, intervention varchar, playbook varchar, template varchar,
    snapshot_date date, risk_tier varchar, churn_probability double,
    model_version varchar, policy_version varchar, retention_policy_version varchar,
    status varchar not null,            -- pending | sent | failed
    attempts integer default 0,
    message_id varchar, last_error varchar,
    created_at timestamp, sent_at timestamp,
    primary key (customer_id, campaign_id, wave)
);
create table if not exists retention.tasks (
    customer_id varchar, campaign_id varchar, wave integer, account_manager varchar,
    title varchar, details varchar, due_on date, created_at timestamp,
    primary key (customer_id, campaign_id, wave)
);
"""


class TransientError(Exception):
    """The provider did not accept the message and may next time (429, 5xx, timeout)."""


class PermanentError(Exception):
    """The provider refused the message for good (a 4xx other than 429)."""


@dataclass(frozen=True)
class Message:
    key: str
    to_email: str
    to_name: str
    template: str
    data: dict[str, Any]


class Sender(Protocol):
    def send(self, message: Message) -> str:
        """Deliver one message; return the provider's message id."""
        ...

    def already_sent(self, message: Message) -> str | None:
        """The message id if this exact message is known to be delivered already, else None."""
        ...


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)


class OutboxSender:
    """The default: each message an ``.eml`` file in the outbox, named by its ledger key (written atomically)."""

    def __init__(self, folder: Path, from_email: str = "success@churn-platform.local") -> None:
        self.folder = folder
        self.from_email = from_email
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, message: Message) -> Path:
        return self.folder / f"{_safe(message.key)}.eml"

    def already_sent(self, message: Message) -> str | None:
        path = self._path(message)
        return f"outbox:{path.name}" if path.exists() else None

    def send(self, message: Message) -> str:
        mail = email.message.EmailMessage()
        mail["From"] = self.from_email
        mail["To"] = f"{message.to_name} <{message.to_email}>"
        mail["Subject"] = f"{message.data.get('name', '')}, {message.data.get('offer', 'a note from us')}"
        mail["X-Ledger-Key"] = message.key
        mail["X-Template-Id"] = message.template
        mail.set_content(
            f"Hello {message.data.get('name', '')},\n\n{message.data.get('reason_text', '')}\n\n"
            f"We would like to offer you {message.data.get('offer', '')}.\n\n"
            f"Template data: {json.dumps(message.data, sort_keys=True)}\n"
        )
        path = self._path(message)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(mail))
        os.replace(tmp, path)
        return f"outbox:{path.name}"


class SendGridSender:
    """Sends through the official client with a dynamic template and per-customer data."""

    def __init__(
        self, api_key: str, host: str, from_email: str, timeout: float = 10.0, sandbox: bool = False
    ) -> None:
        from sendgrid import SendGridAPIClient

        self._client = SendGridAPIClient(api_key=api_key, host=host)
        self._client.client.timeout = timeout
        self.from_email = from_email
        self.sandbox = sandbox

    def already_sent(self, message: Message) -> str | None:
        return None

    def send(self, message: Message) -> str:
        from python_http_client.exceptions import HTTPError
        from sendgrid.helpers.mail import Mail, MailSettings, SandBoxMode

        mail = Mail(from_email=self.from_email, to_emails=message.to_email)
        mail.template_id = message.template
        mail.dynamic_template_data = message.data
        mail_dict = mail.get()
        # the ledger key travels with the message, for reconciliation in SendGrid's activity feed
        mail_dict["custom_args"] = {"ledger_key": message.key}
        if self.sandbox:
            settings = MailSettings()
            settings.sandbox_mode = SandBoxMode(True)
            mail_dict["mail_settings"] = settings.get()
        try:
            response = self._client.send(mail_dict)
        except HTTPError as exc:
            code = int(getattr(exc, "status_code", 0) or 0)
            if code == 429 or code >= 500:
                raise TransientError(f"SendGrid answered {code}") from exc
            raise PermanentError(
                f"SendGrid refused the message: {code} {getattr(exc, 'body', b'')!r}"[:300]
            ) from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            raise TransientError(f"no answer from SendGrid: {exc}") from exc
        headers = {k.lower(): v for k, v in dict(response.headers).items()}
        return str(headers.get("x-message-id", ""))


@dataclass
class DeliveryReport:
    queued: int = 0
    sent: int = 0
    failed: int = 0
    still_pending: int = 0
    recovered: int = 0
    tasks: int = 0
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    for statement in LEDGER_DDL.split(";"):
        if statement.strip():
            con.execute(statement)


def queue_targets(con: duckdb.DuckDBPyConnection, targets: pd.DataFrame) -> int:
    """Insert a pending ledger row for each treated target whose key is new; returns how many were new."""
    treat = targets[targets["decision"] == "treat"]
    if treat.empty:
        return 0
    now = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    rows = treat.assign(
        status="pending", attempts=0, message_id=None, last_error=None, created_at=now, sent_at=None
    )
    cols = [
        "customer_id", "campaign_id", "wave", "channel", "intervention", "playbook", "template", "snapshot_date",
        "risk_tier", "churn_probability", "model_version", "policy_version", "retention_policy_version", "status",
        "attempts", "message_id", "last_error", "created_at", "sent_at",
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


def _reason_text(row: dict[Any, Any]) -> str:
    reasons = [r for r in (row.get("reason_1"), row.get("reason_2")) if r]
    return (
        ("We noticed " + " and ".join(reasons) + ".")
        if reasons
        else "We would love to help you get more done."
    )


def deliver_pending(
    con: duckdb.DuckDBPyConnection,
    sender: Sender,
    details: pd.DataFrame,
    max_attempts: int = 5,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    task_webhook: str | None = None,
    on_message: Callable[[int], None] | None = None,
) -> DeliveryReport:
    """Work through pending ledger rows; each outcome is committed before the next message is touched.

    ``details``: customer_id, name, email, account_manager, offer, reason_1, reason_2, reason_3, timeline_days.
    """
    report = DeliveryReport()
    pending = con.execute(
        "select * from retention.send_ledger where status = 'pending' order by campaign_id, customer_id"
    ).df()
    info = details.set_index("customer_id").to_dict("index")
    for i, row in enumerate(pending.to_dict("records")):
        who = info.get(row["customer_id"], {})
        key = f"{row['campaign_id']}|{row['customer_id']}|{row['wave']}"
        where = [row["customer_id"], row["campaign_id"], row["wave"]]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if row["channel"] == "account_manager_task":
            due = (
                pd.Timestamp(row["snapshot_date"]) + pd.Timedelta(days=int(who.get("timeline_days") or 3))
            ).date()
            title = f"Call {who.get('name', row['customer_id'])}: {row['playbook']}"
            text = _reason_text(who) + f" Offer: {who.get('offer', '')}."
            con.execute("begin transaction")
            con.execute(
                "insert into retention.tasks values (?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
                [
                    row["customer_id"],
                    row["campaign_id"],
                    row["wave"],
                    who.get("account_manager"),
                    title,
                    text,
                    due,
                    now,
                ],
            )
            con.execute(
                "update retention.send_ledger set status = 'sent', attempts = attempts + 1, message_id = ?, "
                "sent_at = ? where customer_id = ? and campaign_id = ? and wave = ?",
                [f"task:{_safe(key)}", now, *where],
            )
            con.execute("commit")
            if task_webhook:
                _post_task(task_webhook, {"title": title, "details": text, "due_on": str(due), "key": key})
            report.tasks += 1
            report.sent += 1
            continue
        message = Message(
            key=key,
            to_email=str(who.get("email", "")),
            to_name=str(who.get("name", "")),
            template=str(row["template"]),
            data={
                "name": who.get("name", ""),
                "offer": who.get("offer", ""),
                "reason_text": _reason_text(who),
                "campaign": row["campaign_id"],
            },
        )
        known = sender.already_sent(message)
        if known:
            con.execute(
                "update retention.send_ledger set status = 'sent', message_id = ?, sent_at = coalesce(sent_at, ?) "
                "where customer_id = ? and campaign_id = ? and wave = ?",
                [known, now, *where],
            )
            report.recovered += 1
            report.sent += 1
            continue
        attempts, outcome, error, permanent = 0, None, None, False
        while attempts < max_attempts:
            attempts += 1
            try:
                outcome = sender.send(message)
                break
            except TransientError as exc:
                error = str(exc)
                report.retries += 1
                kind = error.split(":")[0]
                report.errors[kind] = report.errors.get(kind, 0) + 1
                if attempts < max_attempts:
                    sleep(backoff_seconds * 2 ** (attempts - 1))
            except PermanentError as exc:
                error, permanent = str(exc), True
                break
        status = "sent" if outcome is not None else "failed" if permanent else "pending"
        con.execute(
            "update retention.send_ledger set status = ?, attempts = attempts + ?, "
            "message_id = coalesce(?, message_id), sent_at = coalesce(?, sent_at), last_error = ? "
            "where customer_id = ? and campaign_id = ? and wave = ?",
            [status, attempts, outcome, now if outcome is not None else None, error, *where],
        )
        if status == "sent":
            report.sent += 1
        elif status == "failed":
            report.failed += 1
        else:
            report.still_pending += 1
        if on_message:
            on_message(i)
    return report


def _post_task(url: str, payload: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
