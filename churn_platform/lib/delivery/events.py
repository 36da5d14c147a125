"""Provider delivery events: a small HTTP receiver writes them to files; the delivery loop loads the files.

The receiver (``churn-platform receiver``) never opens the warehouse (DuckDB has one writer, and the pipeline
may hold it): each request it accepts becomes one JSON file in ``<events_dir>/<provider>/``, written
atomically, holding normalised events::

    {"provider", "key" (the ledger key), "event", "message_id", "address", "at" (UTC ISO), "detail"}

- ``POST /sendgrid/events``: SendGrid's Event Webhook (a JSON array; our ``custom_args`` ``ledger_key`` comes
  back on every event). With a verification key (``CHURN_SENDGRID_WEBHOOK_PUBLIC_KEY``) the signature is
  checked with SendGrid's own helper and unsigned posts are refused.
- ``POST /twilio/status?key=...``: Twilio's status callbacks (form fields ``MessageSid``, ``MessageStatus``,
  ``To``, ``ErrorCode``); with the auth token, ``X-Twilio-Signature`` is checked with Twilio's validator
  against the receiver's public URL.

:func:`load_events` (called by the delivery loop) loads files it has not seen into
``retention.provider_events``, marks ledger rows with the provider's latest status, and adds the addresses
the provider says must not be contacted again (bounces, spam reports, unsubscribes, STOP replies) to
``retention.suppressions``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb

EVENTS_DDL = """
create schema if not exists retention;
create table if not exists retention.provider_events (
    message_key varchar, provider varchar, event varchar, message_id varchar, address varchar,
    event_at timestamp, detail varchar, file varchar
);
create table if not exists retention.provider_event_files (file varchar primary key, loaded_at timestamp);
create table if not exists retention.suppressions (
    channel varchar not null, address varchar not null, reason varchar, suppressed_at timestamp,
    primary key (channel, address)
);
"""

SENDGRID_SUPPRESSING = {"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}
TWILIO_STOPPED = {"21610"}  # "Attempt to send to unsubscribed recipient" (the customer replied STOP)


def ensure_event_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in EVENTS_DDL.split(";"):
        if statement.strip():
            con.execute(statement)


def _utc(seconds: float | None = None) -> str:
    when = dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds is not None else dt.datetime.now(dt.UTC)
    return when.replace(tzinfo=None).isoformat()


def sendgrid_events(payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SendGrid Event Webhook entries as normalised events (entries without our key are kept, key null)."""
    out = []
    for item in payload:
        if not isinstance(item, dict):
            continue
        message_id = str(item.get("sg_message_id") or "").split(".")[0] or None
        out.append({
            "provider": "sendgrid", "key": item.get("ledger_key"), "event": str(item.get("event", "")),
            "message_id": message_id, "address": item.get("email"),
            "at": _utc(float(item["timestamp"])) if item.get("timestamp") else _utc(),
            "detail": str(item.get("reason") or item.get("response") or item.get("type") or "")[:300],
        })  # fmt: skip
    return out


def twilio_event(form: dict[str, str], key: str | None) -> dict[str, Any]:
    """One Twilio status callback as a normalised event."""
    return {
        "provider": "twilio", "key": key, "event": form.get("MessageStatus") or form.get("SmsStatus") or "",
        "message_id": form.get("MessageSid") or form.get("SmsSid"), "address": form.get("To"), "at": _utc(),
        "detail": form.get("ErrorCode") or "",
    }  # fmt: skip


def write_events(events_dir: Path, provider: str, events: list[dict[str, Any]]) -> Path | None:
    """One file per received request, written atomically (the loader never sees half a file)."""
    if not events:
        return None
    folder = events_dir / provider
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.json"
    tmp = folder / f".{name}.tmp"
    tmp.write_text(json.dumps(events))
    os.replace(tmp, folder / name)
    return folder / name


def _files(events_dir: Path) -> Iterator[Path]:
    if events_dir.exists():
        yield from sorted(p for p in events_dir.glob("*/*.json") if not p.name.startswith("."))


def load_events(con: duckdb.DuckDBPyConnection, events_dir: Path | None) -> int:
    """Load event files not loaded before; update the ledger's provider status and the suppressions.

    Returns how many events were loaded. Each file is loaded once (``retention.provider_event_files``).
    """
    ensure_event_tables(con)
    if events_dir is None:
        return 0
    seen = {r[0] for r in con.execute("select file from retention.provider_event_files").fetchall()}
    loaded = 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for path in _files(events_dir):
        rel = f"{path.parent.name}/{path.name}"
        if rel in seen:
            continue
        try:
            events = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # written by someone else, or not yet complete: looked at again next time
        rows = [
            (e.get("key"), e.get("provider"), e.get("event"), e.get("message_id"), e.get("address"),
             e.get("at"), e.get("detail"), rel)
            for e in events if isinstance(e, dict)
        ]  # fmt: skip
        con.execute("begin transaction")
        if rows:
            con.executemany("insert into retention.provider_events values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("insert into retention.provider_event_files values (?, ?)", [rel, now])
        con.execute("commit")
        loaded += len(rows)
    if loaded:
        _apply(con)
    return loaded


def _apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        update retention.send_ledger l set provider_status = e.event, provider_status_at = e.event_at,
               message_id = coalesce(nullif(l.message_id, ''), e.message_id)
        from (select message_key, arg_max(event, event_at) as event, max(event_at) as event_at,
                     arg_max(message_id, event_at) as message_id
              from retention.provider_events where message_key is not null group by 1) e
        where l.message_key = e.message_key
        """
    )
    suppressing = ", ".join(f"'{e}'" for e in sorted(SENDGRID_SUPPRESSING))
    stopped = ", ".join(f"'{c}'" for c in sorted(TWILIO_STOPPED))
    con.execute(
        f"""
        insert into retention.suppressions
        select case provider when 'sendgrid' then 'email' else 'sms' end, lower(address),
               provider || ' ' || event || coalesce(': ' || nullif(detail, ''), ''), min(event_at)
        from retention.provider_events
        where address is not null and (
            (provider = 'sendgrid' and event in ({suppressing}))
            or (provider = 'twilio' and detail in ({stopped})))
        group by all
        on conflict do nothing
        """
    )


def events_for(con: duckdb.DuckDBPyConnection, key: str) -> list[dict[str, Any]]:
    """The provider events received for one ledger key, oldest first."""
    frame = con.execute(
        "select event, message_id, event_at, detail from retention.provider_events where message_key = ? "
        "order by event_at",
        [key],
    ).df()
    return [{str(k): (None if v != v else v) for k, v in r.items()} for r in frame.to_dict("records")]


# ----------------------------------------------------------------------------------------------- receiver


class EventReceiver:
    """The HTTP receiver for SendGrid's Event Webhook and Twilio's status callbacks (see the module doc).

    ``public_url`` is the address providers call (Twilio signs the full URL); ``twilio_auth_token`` and
    ``sendgrid_public_key`` switch signature checks on. Use as a context manager or ``start``/``stop``.
    """

    def __init__(
        self,
        events_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        twilio_auth_token: str | None = None,
        sendgrid_public_key: str | None = None,
    ) -> None:
        self.events_dir = events_dir
        self.twilio_auth_token = twilio_auth_token
        self.sendgrid_public_key = sendgrid_public_key
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                try:
                    if parts.path == "/sendgrid/events":
                        status = receiver._sendgrid(body, dict(self.headers))
                    elif parts.path == "/twilio/status":
                        status = receiver._twilio(self.path, body, dict(self.headers))
                    else:
                        status = 404
                except (ValueError, json.JSONDecodeError):
                    status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.public_url = (public_url or f"http://{host}:{self.server.server_address[1]}").rstrip("/")
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.public_url

    def _sendgrid(self, body: bytes, headers: dict[str, str]) -> int:
        if self.sendgrid_public_key:
            from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

            lower = {k.lower(): v for k, v in headers.items()}
            signature = lower.get(EventWebhookHeader.SIGNATURE.lower())
            stamp = lower.get(EventWebhookHeader.TIMESTAMP.lower())
            hook = EventWebhook(self.sendgrid_public_key)
            if not signature or not stamp or not hook.verify_signature(body.decode(), signature, stamp):
                return 403
        payload = json.loads(body or b"[]")
        if not isinstance(payload, list):
            raise ValueError("SendGrid posts a JSON array")
        write_events(self.events_dir, "sendgrid", sendgrid_events(payload))
        return 200

    def _twilio(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        if self.twilio_auth_token:
            from twilio.request_validator import RequestValidator

            signature = {k.lower(): v for k, v in headers.items()}.get("x-twilio-signature", "")
            if not RequestValidator(self.twilio_auth_token).validate(self.public_url + path, form, signature):
                return 403
        keys = parse_qs(urlsplit(path).query).get("key") or []
        key = keys[-1] if keys else None
        write_events(self.events_dir, "twilio", [twilio_event(form, key)])
        return 204

    def start(self) -> EventReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> EventReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
