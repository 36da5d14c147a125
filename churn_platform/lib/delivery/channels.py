"""The channel registry and its providers.

A registry channel says what a channel needs of a customer: which consent column allows it (a company's
profile may name another, ``contact.consent``), which column holds the address and how the address is
validated, and whether quiet hours apply. A provider is how one channel's messages leave:

| channel | providers | recognises an already-sent message by |
|---|---|---|
| ``email`` | local ``.eml`` outbox (default), SendGrid | the file named by the ledger key; SendGrid Event Webhook events carrying the key (``custom_args``) |
| ``sms`` | local outbox (default), Twilio | the file; Twilio's Messages list (to, from, body) and its status callbacks |
| ``in_app`` | local outbox (default), a signed webhook to the company's product | the file; the product deduplicates by ``Idempotency-Key`` |
| ``team_task`` | ``retention.tasks`` (always), plus Slack or a generic webhook | the table's key; Slack's history (message metadata); the webhook deduplicates by key |

Every provider raises the errors of :mod:`churn_platform.lib.delivery.core`; nothing here retries, the loop
does. Clients are injected (a ``requests``-style timeout, a base URL) so tests point each official client at
a local fake speaking its API.
"""

from __future__ import annotations

import datetime as dt
import email.message
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb

from churn_platform.lib.delivery import safety
from churn_platform.lib.delivery.core import (
    OutcomeUnknownError,
    Outgoing,
    PermanentError,
    Reconciled,
    TransientError,
)

# ----------------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ChannelKind:
    """What a registry channel needs of a customer (columns of ``dim_customers``)."""

    name: str
    description: str
    consent_column: str
    address_column: str
    address: Callable[[object], str]
    quiet_hours: bool


CHANNELS: dict[str, ChannelKind] = {
    "email": ChannelKind(
        "email", "email to the customer's contact address", "marketing_consent", "email",
        safety.email_address, quiet_hours=False,
    ),
    "sms": ChannelKind(
        "sms", "a text message to the customer's phone (E.164)", "sms_consent", "phone",
        safety.phone_number, quiet_hours=True,
    ),
    "in_app": ChannelKind(
        "in_app", "an in-app or push notification through the company's product", "push_consent",
        "customer_id", safety.plain_id, quiet_hours=True,
    ),
    "team_task": ChannelKind(
        "team_task", "a task for the customer-success team (retention.tasks, Slack or a webhook)",
        "marketing_consent", "customer_id", safety.plain_id, quiet_hours=False,
    ),
}  # fmt: skip
"""The registry: every channel a playbook may name. An unknown name is an error."""

ALIASES = {"account_manager_task": "team_task"}
"""Names older policies and ledgers used."""


def channel_kind(name: str) -> ChannelKind:
    """The registry entry of a channel name (aliases resolved); ``ValueError`` naming the known ones."""
    found = CHANNELS.get(ALIASES.get(name, name))
    if found is None:
        raise ValueError(f"unknown channel {name!r}; channels are {', '.join(CHANNELS)}")
    return found


def canonical_channel(name: str) -> str:
    return channel_kind(name).name


# ----------------------------------------------------------------------------------------------- helpers


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)


def _settled_after(requested_at: dt.datetime, now: dt.datetime, settle_seconds: float) -> bool:
    return (now - requested_at).total_seconds() >= settle_seconds


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _http_outcome(code: int, name: str, body: str = "") -> Exception:
    """What an HTTP error status means for a provider without an idempotency key."""
    if code in (429, 503):
        return TransientError(f"{name} answered {code}")
    if code >= 500 or code == 408:
        return OutcomeUnknownError(f"{name} answered {code}: it may have accepted the message")
    return PermanentError(f"{name} refused the message: {code} {body}".strip()[:300])


def _network_outcome(exc: BaseException, name: str) -> Exception:
    """A connection that was never made is not accepted; one that broke after the request is unknown."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError | socket.gaierror):
        return TransientError(f"no answer from {name}: {type(reason).__name__}")
    return OutcomeUnknownError(f"no answer from {name}: {type(reason).__name__} {reason}".strip()[:300])


# ----------------------------------------------------------------------------------------------- outbox


class OutboxChannel:
    """The local default: one file per message, named by its ledger key, written atomically.

    Email is an ``.eml`` (text and HTML parts, ``To`` quoted per RFC 5322); SMS and in-app are JSON. The
    file is the record: a message whose file exists was sent, one whose file does not was not.
    """

    provider = "outbox"
    resend_when_unknown = False

    def __init__(self, name: str, folder: Path, from_email: str = "success@churn-platform.local") -> None:
        self.name = canonical_channel(name)
        self.folder = folder if self.name == "email" else folder / self.name
        self.from_email = from_email
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, message: Outgoing) -> Path:
        return self.folder / f"{_safe(message.key)}.{'eml' if self.name == 'email' else 'json'}"

    def already_sent(self, message: Outgoing) -> str | None:
        path = self.path(message)
        return f"outbox:{path.name}" if path.exists() else None

    def send(self, message: Outgoing) -> str:
        path = self.path(message)
        if self.name == "email":
            _write_atomically(path, bytes(email_mime(message, self.from_email)))
        else:
            _write_atomically(path, json.dumps(message.as_record(), sort_keys=True, indent=1).encode())
        return f"outbox:{path.name}"

    def reconcile(
        self, message: Outgoing, requested_at: dt.datetime, now: dt.datetime, events: list[dict[str, Any]]
    ) -> Reconciled:
        found = self.already_sent(message)
        if found:
            return Reconciled("accepted", found, "the outbox file exists")
        return Reconciled("not_accepted", None, "no outbox file")


def email_mime(message: Outgoing, from_email: str) -> email.message.EmailMessage:
    """The email as RFC 5322 wants it: one quoted recipient, a one-line subject, text and HTML parts."""
    mail = email.message.EmailMessage()
    mail["From"] = from_email
    mail["To"] = safety.mailbox(message.to_name, message.to)
    mail["Subject"] = safety.clean_text(message.subject, "subject")
    mail["X-Ledger-Key"] = safety.clean_text(message.key, "key")
    mail["X-Template-Id"] = safety.clean_text(message.template, "template")
    mail.set_content(message.text or "")
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    if message.language:  # after the content: setting it clears Content-* headers
        mail["Content-Language"] = safety.clean_text(message.language, "language")
    return mail


# ----------------------------------------------------------------------------------------------- SendGrid


class SendGridChannel:
    """Email through SendGrid's v3 mail send (official client); the ledger key travels in ``custom_args``.

    Reconciliation reads the SendGrid Event Webhook's events for the key (``processed``, ``delivered``,
    ``dropped``, ``bounce``...: any event means SendGrid accepted the message). With none after
    ``settle_seconds`` the message is taken as not accepted and sent again; ``settle_seconds`` must cover the
    webhook's delay (SendGrid batches events for up to a few minutes).
    """

    name = "email"
    provider = "sendgrid"
    resend_when_unknown = False

    def __init__(
        self,
        api_key: str,
        host: str,
        from_email: str,
        timeout: float = 10.0,
        sandbox: bool = False,
        settle_seconds: float = 900.0,
    ) -> None:
        from sendgrid import SendGridAPIClient

        self._client = SendGridAPIClient(api_key=api_key, host=host)
        self._client.client.timeout = timeout
        self.from_email = from_email
        self.sandbox = sandbox
        self.settle_seconds = settle_seconds

    def send(self, message: Outgoing) -> str:
        from python_http_client.exceptions import HTTPError
        from sendgrid.helpers.mail import Email, Mail, MailSettings, SandBoxMode, To

        to = To(safety.email_address(message.to), safety.clean_text(message.to_name, "name") or None)
        mail = Mail(from_email=Email(self.from_email), to_emails=to)
        if message.template.startswith("d-"):
            mail.template_id = message.template
            mail.dynamic_template_data = {
                **message.data, "subject": message.subject, "text": message.text, "language": message.language,
            }  # fmt: skip
        else:
            mail.subject = safety.clean_text(message.subject, "subject")
            mail.add_content(message.text or " ", "text/plain")
            if message.html:
                mail.add_content(message.html, "text/html")
        body = mail.get()
        body["custom_args"] = {"ledger_key": message.key}
        if self.sandbox:
            settings = MailSettings()
            settings.sandbox_mode = SandBoxMode(True)
            body["mail_settings"] = settings.get()
        try:
            response = self._client.send(body)
        except HTTPError as exc:
            code = int(getattr(exc, "status_code", 0) or 0)
            raise _http_outcome(code, "SendGrid", repr(getattr(exc, "body", b""))[:200]) from None
        except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise _network_outcome(exc, "SendGrid") from None
        headers = {k.lower(): v for k, v in dict(response.headers).items()}
        return str(headers.get("x-message-id", "") or "accepted")

    def reconcile(
        self, message: Outgoing, requested_at: dt.datetime, now: dt.datetime, events: list[dict[str, Any]]
    ) -> Reconciled:
        if events:
            first = events[0]
            return Reconciled("accepted", first.get("message_id") or None, f"event {first.get('event')}")
        if _settled_after(requested_at, now, self.settle_seconds):
            return Reconciled("not_accepted", None, f"no SendGrid event within {self.settle_seconds:g} s")
        return Reconciled("undecided", None, "waiting for SendGrid's events")


# ----------------------------------------------------------------------------------------------- Twilio


class _BaseUrlHttpClient:
    """Twilio's own HTTP client, sending to another base URL (a regional edge, a test fake)."""

    def __init__(self, base_url: str | None, timeout: float) -> None:
        from twilio.http.http_client import TwilioHttpClient

        class Client(TwilioHttpClient):
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                if base_url:
                    url = re.sub(r"^https://api\.twilio\.com", base_url.rstrip("/"), url)
                return super().request(method, url, *args, **kwargs)

        self.client = Client(timeout=timeout)


class TwilioChannel:
    """SMS through Twilio's Messages API (official client).

    The status callback URL carries the ledger key, so the receiver files Twilio's status callbacks under
    it. Reconciliation asks Twilio's Messages list for messages to the number from ours, newest first, and
    looks for this message's exact body sent after the request left; none after ``settle_seconds``: not
    accepted.
    """

    name = "sms"
    provider = "twilio"
    resend_when_unknown = False

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        base_url: str | None = None,
        status_callback_url: str | None = None,
        timeout: float = 10.0,
        settle_seconds: float = 120.0,
    ) -> None:
        from twilio.rest import Client

        self._client = Client(
            account_sid, auth_token, http_client=_BaseUrlHttpClient(base_url, timeout).client
        )
        self.from_number = safety.phone_number(from_number)
        self.status_callback_url = status_callback_url
        self.settle_seconds = settle_seconds

    def _raise(self, exc: BaseException) -> None:
        import requests
        from twilio.base.exceptions import TwilioRestException

        if isinstance(exc, TwilioRestException):
            raise _http_outcome(int(exc.status), "Twilio", f"{exc.code} {exc.msg}") from None
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            raise TransientError("no answer from Twilio: connect timeout") from None
        if isinstance(exc, requests.exceptions.ConnectionError) and "refused" in str(exc).lower():
            raise TransientError("no answer from Twilio: connection refused") from None
        raise OutcomeUnknownError(f"no answer from Twilio: {type(exc).__name__}") from None

    def send(self, message: Outgoing) -> str:
        import requests
        from twilio.base.exceptions import TwilioRestException

        options: dict[str, Any] = {"to": safety.phone_number(message.to), "from_": self.from_number}
        if self.status_callback_url:
            options["status_callback"] = f"{self.status_callback_url}?key={quote(message.key, safe='')}"
        try:
            created = self._client.messages.create(body=message.text, **options)
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            self._raise(exc)
            raise  # unreachable: _raise always raises
        return str(created.sid)

    def reconcile(
        self, message: Outgoing, requested_at: dt.datetime, now: dt.datetime, events: list[dict[str, Any]]
    ) -> Reconciled:
        import requests
        from twilio.base.exceptions import TwilioRestException

        for event in events:
            if event.get("message_id"):
                return Reconciled("accepted", event["message_id"], f"status callback {event.get('event')}")
        since = requested_at.replace(tzinfo=dt.UTC) - dt.timedelta(minutes=5)
        try:
            for found in self._client.messages.stream(
                to=safety.phone_number(message.to), from_=self.from_number, page_size=50
            ):
                created = found.date_created
                if created is not None and created.astimezone(dt.UTC) < since:
                    break
                if found.body == message.text:
                    return Reconciled("accepted", str(found.sid), "found in Twilio's message list")
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            return Reconciled(
                "undecided", None, f"Twilio's message list did not answer: {type(exc).__name__}"
            )
        if _settled_after(requested_at, now, self.settle_seconds):
            return Reconciled("not_accepted", None, "not in Twilio's message list")
        return Reconciled("undecided", None, "not in Twilio's message list yet")


# ----------------------------------------------------------------------------------------------- webhooks


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature of an in-app webhook request: hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def post_json(
    url: str,
    payload: dict[str, Any],
    timeout: float = 10.0,
    name: str = "webhook",
    headers: dict[str, str] | None = None,
    *,
    unknown_is_transient: bool = True,
) -> bytes:
    """POST ``payload`` as JSON and return the answer's body.

    Raises ``TransientError`` (408, 429, 5xx, no answer), ``PermanentError`` (other 4xx). With
    ``unknown_is_transient=False`` an answer that may follow acceptance (a timeout, 500/502/504) raises
    ``OutcomeUnknownError`` instead. Webhook URLs carry their secret in the path, so no message raised here
    contains the URL: failures are described by ``name``, the status code and the start of the answer's body.
    """
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return bytes(answer.read(65536))
    except urllib.error.HTTPError as exc:
        code = int(exc.code)
        text = exc.read(300).decode("utf-8", "replace").strip()
        outcome = _http_outcome(code, name, text)
        if isinstance(outcome, OutcomeUnknownError) and unknown_is_transient:
            outcome = TransientError(f"{name} answered {code}")
        raise outcome from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        outcome = _network_outcome(exc, name)
        if isinstance(outcome, OutcomeUnknownError) and unknown_is_transient:
            outcome = TransientError(str(outcome))
        raise outcome from None
    except ValueError:
        # urllib names the offending URL in its message; the URL may be a secret
        raise PermanentError(f"{name} URL is not a valid http(s) URL") from None


class WebhookChannel:
    """JSON to an HTTP endpoint with an ``Idempotency-Key`` header (the ledger key), optionally signed.

    Used for in-app notifications (the company's product shows them; signed with ``X-Churn-Signature``,
    ``v1=`` HMAC-SHA256 of ``<X-Churn-Timestamp>.<body>``) and for team tasks (a generic webhook). The
    receiver must treat a repeated key as the same message: an unknown outcome is then simply sent again.
    """

    provider = "webhook"
    resend_when_unknown = True

    def __init__(
        self, name: str, url: str, secret: str | None = None, timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.name = canonical_channel(name)
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.clock = clock

    def payload(self, message: Outgoing) -> dict[str, Any]:
        return {
            "key": message.key, "channel": self.name, "recipient": message.to, "name": message.to_name,
            "language": message.language, "title": message.subject, "body": message.text, "data": message.data,
        }  # fmt: skip

    def send(self, message: Outgoing) -> str:
        payload = self.payload(message)
        headers = {"Idempotency-Key": message.key}
        if self.secret:
            stamp = str(int(self.clock()))
            body = json.dumps(payload).encode()
            headers["X-Churn-Timestamp"] = stamp
            headers["X-Churn-Signature"] = "v1=" + sign(self.secret, stamp, body)
        post_json(
            self.url, payload, self.timeout, name=f"{self.name} webhook", headers=headers,
            unknown_is_transient=False,
        )  # fmt: skip
        return f"{self.name}-webhook:{_safe(message.key)}"

    def reconcile(
        self, message: Outgoing, requested_at: dt.datetime, now: dt.datetime, events: list[dict[str, Any]]
    ) -> Reconciled:
        return Reconciled("not_accepted", None, "the receiver deduplicates by Idempotency-Key: sent again")


# ----------------------------------------------------------------------------------------------- tasks


class SlackTasks:
    """Team tasks as Slack messages (official ``slack_sdk``, ``chat.postMessage``) with the key in metadata.

    Reconciliation reads the channel's history (``conversations.history`` with metadata) since the request
    and looks for the key; none after ``settle_seconds``: not accepted.
    """

    provider = "slack"
    resend_when_unknown = False

    def __init__(
        self, token: str, channel: str, base_url: str = "https://slack.com/api/", timeout: float = 10.0,
        settle_seconds: float = 60.0,
    ) -> None:  # fmt: skip
        from slack_sdk import WebClient

        self._client = WebClient(
            token=token, base_url=base_url, timeout=int(max(1, timeout)), retry_handlers=[]
        )
        self._client.timeout = timeout  # type: ignore[assignment]
        self.channel = channel
        self.settle_seconds = settle_seconds

    def _outcome(self, exc: BaseException) -> Exception:
        from slack_sdk.errors import SlackApiError

        if isinstance(exc, SlackApiError):
            code = int(exc.response.status_code)
            if code == 200:
                return PermanentError(f"Slack refused the task: {exc.response.get('error')}")
            return _http_outcome(code, "Slack", str(exc.response.get("error", "")))
        return _network_outcome(exc, "Slack")

    def post(self, message: Outgoing) -> str:
        from slack_sdk.errors import SlackApiError

        try:
            answer = self._client.chat_postMessage(
                channel=self.channel,
                text=f"*{message.subject}*\n{message.text}",
                metadata={"event_type": "churn_task", "event_payload": {"ledger_key": message.key}},
            )
        except (SlackApiError, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise self._outcome(exc) from None
        return f"slack:{answer.get('channel')}:{answer.get('ts')}"

    def find(self, message: Outgoing, requested_at: dt.datetime, now: dt.datetime) -> Reconciled:
        from slack_sdk.errors import SlackApiError

        oldest = requested_at.replace(tzinfo=dt.UTC).timestamp() - 300
        try:
            history = self._client.conversations_history(
                channel=self.channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
            )
        except (SlackApiError, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            return Reconciled("undecided", None, f"Slack history did not answer: {type(exc).__name__}")
        messages: list[dict[str, Any]] = history.get("messages", [])
        for item in messages:
            payload = (item.get("metadata") or {}).get("event_payload") or {}
            if payload.get("ledger_key") == message.key:
                return Reconciled(
                    "accepted", f"slack:{self.channel}:{item.get('ts')}", "found in Slack history"
                )
        if _settled_after(requested_at, now, self.settle_seconds):
            return Reconciled("not_accepted", None, "not in Slack's history")
        return Reconciled("undecided", None, "not in Slack's history yet")


TASKS_DDL = """
create schema if not exists retention;
create table if not exists retention.tasks (
    customer_id varchar, campaign_id varchar, wave integer, account_manager varchar,
    title varchar, details varchar, due_on date, created_at timestamp,
    primary key (customer_id, campaign_id, wave)
);
"""


class TeamTaskChannel:
    """A task for the team: a row in ``retention.tasks`` (the platform's task list, written once per key),
    then, when configured, the same task to Slack or a generic webhook (each recognised by the ledger key).

    ``message.data`` carries ``customer_id``, ``campaign_id``, ``wave``, ``account_manager`` and ``due_on``.
    """

    name = "team_task"

    def __init__(
        self, con: duckdb.DuckDBPyConnection, forward: SlackTasks | WebhookChannel | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:  # fmt: skip
        self.con = con
        self.forward = forward
        self.provider = "table" + (f"+{forward.provider}" if forward else "")
        self.resend_when_unknown = bool(forward is None or forward.resend_when_unknown)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
        for statement in TASKS_DDL.split(";"):
            if statement.strip():
                con.execute(statement)

    def send(self, message: Outgoing) -> str:
        data = message.data
        self.con.execute(
            "insert into retention.tasks values (?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
            [data.get("customer_id"), data.get("campaign_id"), data.get("wave"), data.get("account_manager"),
             message.subject, message.text, data.get("due_on"), self.clock()],
        )  # fmt: skip
        if isinstance(self.forward, SlackTasks):
            return self.forward.post(message)
        if isinstance(self.forward, WebhookChannel):
            return self.forward.send(message)
        return f"task:{_safe(message.key)}"

    def reconcile(
        self, message: Outgoing, requested_at: dt.datetime, now: dt.datetime, events: list[dict[str, Any]]
    ) -> Reconciled:
        if isinstance(self.forward, SlackTasks):
            return self.forward.find(message, requested_at, now)
        if self.forward is None:
            return Reconciled("not_accepted", None, "the task table is written once per key: written again")
        return Reconciled("not_accepted", None, "the webhook deduplicates by Idempotency-Key: sent again")


def consent_column(channel: str, overrides: Mapping[str, str] | None = None) -> str:
    """The account column whose true value allows ``channel``: the profile's ``contact.consent`` entry, else
    the registry's default. A channel named in ``overrides`` that the registry lacks is an error."""
    kind = channel_kind(channel)
    named = {canonical_channel(k): v for k, v in (overrides or {}).items()}
    return named.get(kind.name, kind.consent_column)
