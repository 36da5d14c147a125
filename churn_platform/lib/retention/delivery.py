"""Delivering campaigns exactly once: a send ledger keyed by (customer, campaign, wave) in the warehouse.

Every treated target first gets a ``pending`` ledger row (a key that exists is never inserted again, so a
re-run cannot queue a customer twice). Delivery then works through the pending rows and commits each
outcome as soon as it is known: ``sent`` with the provider's message id, or ``failed`` with the reason for a
permanent error. 429, 5xx and timeouts are retried with exponential backoff; a row still pending after its
retries stays pending for the next run. Account-manager tasks go to a tasks table (and a webhook when set).

What "exactly once" rests on: the local outbox names each message by its ledger key, so a message written
before a crash is recognised after it. SendGrid has no idempotency key; the retried failures are those where
it answered 429/5xx (nothing accepted) or did not answer at all. The API key is never logged or stored.

``with_retries`` and ``post_json`` are shared with the operational alerts (``churn_platform.lib.alerts``),
which also send their emails through a ``Sender`` (the outbox lays out template ``"alert"`` as a notice).
"""

from __future__ import annotations

import datetime as dt
import email.message
import functools
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

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


ALERT_TEMPLATE = "alert"
"""The template name of operational alerts (``churn_platform.lib.alerts``); the outbox lays them out as a notice."""


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)


def _campaign_email(message: Message) -> tuple[str, str]:
    data = message.data
    subject = f"{data.get('name', '')}, {data.get('offer', 'a note from us')}"
    body = (
        f"Hello {data.get('name', '')},\n\n{data.get('reason_text', '')}\n\n"
        f"We would like to offer you {data.get('offer', '')}.\n\n"
        f"Template data: {json.dumps(data, sort_keys=True)}\n"
    )
    return subject, body


def _alert_email(message: Message) -> tuple[str, str]:
    """A notice for the owning team: the text first, then the numbers one per line."""
    data = message.data
    subject = f"[{str(data.get('severity', 'info')).upper()}] {data.get('title', '')}"
    lines = [str(data.get("text", "")), ""]
    lines += [f"{f.get('name', '')}: {f.get('value', '')}" for f in data.get("fields", [])]
    if data.get("link"):
        lines += ["", f"More: {data['link']}"]
    lines += ["", f"Alert key: {data.get('alert_key', '')}"]
    return subject, "\n".join(lines) + "\n"


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
        subject, body = (_alert_email if message.template == ALERT_TEMPLATE else _campaign_email)(message)
        mail["Subject"] = subject
        mail["X-Ledger-Key"] = message.key
        mail["X-Template-Id"] = message.template
        mail.set_content(body)
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
        tried = with_retries(functools.partial(sender.send, message), max_attempts, backoff_seconds, sleep)
        for transient in tried.transient_errors:
            report.retries += 1
            kind = transient.split(":")[0]
            report.errors[kind] = report.errors.get(kind, 0) + 1
        outcome, error, attempts = tried.value, tried.error, tried.attempts
        status = (
            "sent" if outcome is not None else "failed" if tried.permanent_error is not None else "pending"
        )
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
    """Call ``action`` until it succeeds, retrying ``TransientError`` with exponential backoff.

    A ``PermanentError`` stops at once (retrying a refusal only repeats it). Nothing is raised: the caller
    decides what a failure means for its ledger (campaign sends stay pending, alerts are logged as failed).
    """
    tried: Attempted[T] = Attempted(value=None, attempts=0)
    while tried.attempts < max_attempts:
        tried.attempts += 1
        try:
            tried.value = action()
            return tried
        except TransientError as exc:
            tried.transient_errors.append(str(exc))
            if tried.attempts < max_attempts:
                sleep(backoff_seconds * 2 ** (tried.attempts - 1))
        except PermanentError as exc:
            tried.permanent_error = str(exc)
            return tried
    return tried


def post_json(url: str, payload: dict[str, Any], timeout: float = 10.0, name: str = "webhook") -> None:
    """POST ``payload`` as JSON; raise ``TransientError`` (408, 429, 5xx, no answer) or ``PermanentError``.

    Webhook URLs carry their secret in the path, so no message raised here contains the URL: failures are
    described by ``name``, the status code and (for refusals) the start of the answer's body.
    """
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        code = int(exc.code)
        if code in {408, 429} or code >= 500:
            raise TransientError(f"{name} answered {code}") from None
        body = exc.read(300).decode("utf-8", "replace").strip()
        raise PermanentError(f"{name} refused the message: {code} {body}".strip()) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise TransientError(f"no answer from {name}: {type(reason).__name__} {reason}".strip()) from None
    except ValueError:
        # urllib names the offending URL in its message; the URL may be a secret
        raise PermanentError(f"{name} URL is not a valid http(s) URL") from None


def _post_task(url: str, payload: dict[str, Any]) -> None:
    post_json(url, payload, name="task webhook")
