"""Local fakes of the providers, speaking their real APIs to the official clients, with injectable faults.

Every fake logs what it *accepted* (``accepted``: one entry per message it took, with the ledger key it
carried): duplicates and losses are counted from that log, never from the platform's own ledger.

Faults (drawn per request from a seeded generator, or scripted):

- ``429``: answers 429, accepts nothing;
- ``500``: answers 500, accepts nothing;
- ``500_accepted``: accepts the message, then answers 500 (the provider failed after taking it);
- ``slow``: accepts the message, then holds the answer past the client's timeout (the classic duplicate);
- ``ok``: accepts and answers at once.

``block_on(n)`` makes the n-th accepted message hang (accepted, no answer) and sets ``blocked``, so a test
can kill the sending process while that request is in flight; ``release()`` lets it go.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FAULTS = ("429", "500", "500_accepted", "slow")


class FaultPlan:
    """Which fault each request gets: a script first, then random faults at ``rate`` (seeded)."""

    def __init__(self, rate: float = 0.0, seed: int = 0, script: list[str] | None = None) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.script = list(script or [])
        self.drawn: Counter[str] = Counter()

    def next(self) -> str:
        if self.script:
            fault = self.script.pop(0)
        elif self.rng.random() < self.rate:
            fault = self.rng.choice(FAULTS)
        else:
            fault = "ok"
        self.drawn[fault] += 1
        return fault


class FakeProvider:
    """An HTTP server on 127.0.0.1 with the bookkeeping every fake shares."""

    def __init__(self, faults: FaultPlan | None = None, hold_seconds: float = 1.0) -> None:
        self.faults = faults or FaultPlan()
        self.hold_seconds = hold_seconds
        self.accepted: list[dict[str, Any]] = []
        self.requests = 0
        self.lock = threading.Lock()
        self.blocked = threading.Event()
        self._release = threading.Event()
        self._block_at: int | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                fake.handle(self, "GET", b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake.handle(self, "POST", self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ---------------------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    host = url

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def block_on(self, n: int) -> None:
        """The n-th accepted message (1-based, counting from now) hangs after being accepted."""
        with self.lock:
            self._block_at = len(self.accepted) + n
        self.blocked.clear()
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    # ---------------------------------------------------------------------------------------- answers

    def answer(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body:
            handler.wfile.write(body)

    def json(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.answer(
            handler,
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def accept_with_faults(
        self, handler: BaseHTTPRequestHandler, record: dict[str, Any], reply: Callable[[], None]
    ) -> None:
        """Apply the next fault around accepting ``record``; ``reply`` answers a success."""
        with self.lock:
            self.requests += 1
            fault = self.faults.next()
        if fault == "429":
            self.json(handler, 429, {"errors": [{"message": "too many requests"}]}, {"Retry-After": "1"})
            return
        if fault == "500":
            self.json(handler, 500, {"errors": [{"message": "internal error"}]})
            return
        with self.lock:
            self.accepted.append(record)
            block = self._block_at is not None and len(self.accepted) >= self._block_at
            if block:
                self._block_at = None
        self.on_accepted(record)
        if block:
            self.blocked.set()
            self._release.wait(30)
            handler.close_connection = True
            return
        if fault == "500_accepted":
            self.json(handler, 500, {"errors": [{"message": "internal error"}]})
            return
        if fault == "slow":
            time.sleep(self.hold_seconds)
            handler.close_connection = True
            return
        reply()

    def on_accepted(self, record: dict[str, Any]) -> None:
        """Hook: what the provider does after taking a message (post events, status callbacks)."""

    def handle(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------- counting

    def deliveries(self) -> Counter[str]:
        """How many times each ledger key was accepted."""
        return Counter(str(r.get("key")) for r in self.accepted)

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.deliveries().values() if n > 1)

    def lost(self, expected_keys: set[str]) -> int:
        return len(expected_keys - set(self.deliveries()))


def _post_later(url: str, data: bytes, headers: dict[str, str], delay: float = 0.0) -> None:
    def go() -> None:
        time.sleep(delay)
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=5).close()

    threading.Thread(target=go, daemon=True).start()


class FakeSendGrid(FakeProvider):
    """``POST /v3/mail/send`` (202 + ``X-Message-Id``) and, after accepting, Event Webhook posts
    (``processed`` then ``delivered``, with the message's ``custom_args``) to ``events_url``."""

    def __init__(self, api_key: str, faults: FaultPlan | None = None, hold_seconds: float = 1.0,
                 events_url: str | None = None) -> None:  # fmt: skip
        super().__init__(faults, hold_seconds)
        self.api_key = api_key
        self.events_url = events_url

    def handle(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        if method != "POST" or handler.path != "/v3/mail/send":
            self.json(handler, 404, {"errors": [{"message": "not found"}]})
            return
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            self.json(handler, 401, {"errors": [{"message": "authorization required"}]})
            return
        mail = json.loads(body or b"{}")
        problems = [k for k in ("personalizations", "from") if k not in mail]
        if "template_id" not in mail and "content" not in mail:
            problems.append("content")
        if problems:
            self.json(handler, 400, {"errors": [{"message": f"missing {p}"} for p in problems]})
            return
        with self.lock:
            message_id = f"sg{len(self.accepted) + 1:06d}"
        record = {
            "key": mail.get("custom_args", {}).get("ledger_key"),
            "message_id": message_id,
            "mail": mail,
        }
        self.accept_with_faults(
            handler, record, lambda: self.answer(handler, 202, b"", {"X-Message-Id": message_id})
        )

    def on_accepted(self, record: dict[str, Any]) -> None:
        if not self.events_url:
            return
        to = record["mail"]["personalizations"][0]["to"][0]["email"]
        now = int(time.time())
        events = [
            {"email": to, "timestamp": now, "event": name, "sg_message_id": f"{record['message_id']}.filter0001",
             "sg_event_id": f"{record['message_id']}-{name}", **record["mail"].get("custom_args", {})}
            for name in ("processed", "delivered")
        ]  # fmt: skip
        _post_later(self.events_url, json.dumps(events).encode(), {"Content-Type": "application/json"}, 0.05)


class FakeTwilio(FakeProvider):
    """Twilio's Messages API: create (form-encoded, basic auth), list (To/From filters, newest first, paged),
    and signed status callbacks (``queued`` at once, then ``delivered``)."""

    def __init__(self, account_sid: str, auth_token: str, faults: FaultPlan | None = None,
                 hold_seconds: float = 1.0, callback_base: str | None = None) -> None:  # fmt: skip
        super().__init__(faults, hold_seconds)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, Any]] = []  # what the list API shows, newest last

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return handler.headers.get("Authorization") == f"Basic {expected}"

    def handle(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        parts = urlsplit(handler.path)
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if parts.path != base:
            self.json(handler, 404, {"code": 20404, "message": "not found", "status": 404})
            return
        if not self._authorised(handler):
            self.json(handler, 401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        if method == "GET":
            self._list(handler, parse_qs(parts.query))
            return
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        if not form.get("To", "").startswith("+") or not form.get("Body"):
            self.json(handler, 400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
            return
        with self.lock:
            sid = f"SM{len(self.messages) + 1:032d}"
        callback = form.get("StatusCallback")
        key = (parse_qs(urlsplit(callback).query).get("key") or [None])[-1] if callback else None
        record = {"key": key, "sid": sid, "to": form["To"], "from": form.get("From"), "body": form["Body"],
                  "callback": callback}  # fmt: skip
        resource = self._resource(record, "queued")

        self.accept_with_faults(handler, record, lambda: self.json(handler, 201, resource))

    def on_accepted(self, record: dict[str, Any]) -> None:
        record["created"] = dt.datetime.now(dt.UTC)
        with self.lock:
            self.messages.append(record)
        if record.get("callback"):
            from twilio.request_validator import RequestValidator

            for status, delay in (("sent", 0.02), ("delivered", 0.05)):
                form = {"MessageSid": record["sid"], "MessageStatus": status, "To": record["to"],
                        "From": record["from"] or "", "AccountSid": self.account_sid}  # fmt: skip
                signature = RequestValidator(self.auth_token).compute_signature(record["callback"], form)
                _post_later(
                    record["callback"], urlencode(form).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}, delay,
                )  # fmt: skip

    def _resource(self, record: dict[str, Any], status: str) -> dict[str, Any]:
        created = record.get("created") or dt.datetime.now(dt.UTC)
        stamp = created.strftime("%a, %d %b %Y %H:%M:%S +0000")
        return {
            "sid": record["sid"], "account_sid": self.account_sid, "to": record["to"], "from": record["from"],
            "body": record["body"], "status": status, "date_created": stamp, "date_updated": stamp,
            "date_sent": None, "direction": "outbound-api", "num_segments": "1", "price": None, "error_code": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{record['sid']}.json",
        }  # fmt: skip

    def _list(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        to, sender = (query.get("To") or [None])[-1], (query.get("From") or [None])[-1]
        size = int((query.get("PageSize") or ["50"])[-1])
        page = int((query.get("Page") or ["0"])[-1])
        with self.lock:
            found = [m for m in reversed(self.messages) if (to is None or m["to"] == to)
                     and (sender is None or m["from"] == sender)]  # fmt: skip
        chunk = found[page * size : (page + 1) * size]
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        more = (page + 1) * size < len(found)
        params = {k: v[-1] for k, v in query.items() if k not in ("Page", "PageToken")}
        self.json(handler, 200, {
            "messages": [self._resource(m, "delivered") for m in chunk],
            "page": page, "page_size": size, "first_page_uri": f"{base}?{urlencode({**params, 'Page': 0})}",
            "next_page_uri": f"{base}?{urlencode({**params, 'Page': page + 1})}" if more else None,
            "previous_page_uri": None, "uri": f"{base}?{urlencode(params)}", "start": page * size,
            "end": page * size + len(chunk),
        })  # fmt: skip


class FakeSlack(FakeProvider):
    """Slack Web API: ``chat.postMessage`` (metadata kept) and ``conversations.history`` (with metadata)."""

    def __init__(self, token: str, faults: FaultPlan | None = None, hold_seconds: float = 1.0) -> None:
        super().__init__(faults, hold_seconds)
        self.token = token
        self.history: list[dict[str, Any]] = []

    def handle(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        parts = urlsplit(handler.path)
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            self.json(handler, 200, {"ok": False, "error": "invalid_auth"})
            return
        content = handler.headers.get("Content-Type", "")
        if "json" in content:
            args = json.loads(body or b"{}")
        else:
            args = {k: v[-1] for k, v in parse_qs(body.decode() or parts.query).items()}
        if parts.path == "/api/chat.postMessage":
            metadata = args.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            key = ((metadata or {}).get("event_payload") or {}).get("ledger_key")
            with self.lock:
                ts = f"{time.time():.6f}"
            record = {"key": key, "ts": ts, "channel": args.get("channel"), "text": args.get("text"),
                      "metadata": metadata}  # fmt: skip
            self.accept_with_faults(
                handler,
                record,
                lambda: self.json(handler, 200, {"ok": True, "channel": args.get("channel"), "ts": ts}),
            )
            return
        if parts.path == "/api/conversations.history":
            oldest = float(args.get("oldest") or 0)
            with self.lock:
                found = [{"type": "message", "ts": r["ts"], "text": r["text"], "metadata": r["metadata"]}
                         for r in reversed(self.history) if float(r["ts"]) >= oldest]  # fmt: skip
            self.json(handler, 200, {"ok": True, "messages": found, "has_more": False})
            return
        self.json(handler, 404, {"ok": False, "error": "unknown_method"})

    def on_accepted(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.history.append(record)


class FakeWebhook(FakeProvider):
    """A generic JSON webhook (team tasks) or the product's signed in-app endpoint (with ``secret``):
    it checks the signature, logs every accepted post, and deduplicates by ``Idempotency-Key``
    (``effects``: what the product shows, once per key)."""

    def __init__(
        self, secret: str | None = None, faults: FaultPlan | None = None, hold_seconds: float = 1.0
    ) -> None:
        super().__init__(faults, hold_seconds)
        self.secret = secret
        self.effects: dict[str, dict[str, Any]] = {}

    def handle(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        if self.secret:
            from churn_platform.lib.delivery.channels import sign

            stamp = handler.headers.get("X-Churn-Timestamp", "")
            expected = "v1=" + sign(self.secret, stamp, body)
            if handler.headers.get("X-Churn-Signature") != expected:
                self.json(handler, 401, {"error": "bad signature"})
                return
        payload = json.loads(body or b"{}")
        record = {"key": handler.headers.get("Idempotency-Key"), "payload": payload}
        self.accept_with_faults(handler, record, lambda: self.json(handler, 200, {"ok": True}))

    def on_accepted(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.effects.setdefault(str(record["key"]), record["payload"])
