"""A local stand-in for SendGrid's v3 ``/v3/mail/send`` that the real client talks to, with injectable faults.

Faults are scripted per request: ``"429"`` and ``"500"`` answer with that status and accept nothing;
``"timeout"`` holds the request past the client's timeout and then drops it unaccepted (as a gateway that
gave up before the mail service saw it); ``"ok"`` accepts it with 202 and an ``X-Message-Id``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSendGrid:
    def __init__(self, api_key: str, faults: list[str] | None = None, hold_seconds: float = 1.0) -> None:
        self.api_key = api_key
        self.faults = list(faults or [])
        self.hold_seconds = hold_seconds
        self.accepted: list[dict[str, Any]] = []
        self.requests = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v3/mail/send":
                    self._answer(404, {"errors": [{"message": "not found"}]})
                    return
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._answer(401, {"errors": [{"message": "authorization required"}]})
                    return
                with fake._lock:
                    fake.requests += 1
                    fault = fake.faults.pop(0) if fake.faults else "ok"
                if fault == "timeout":
                    time.sleep(fake.hold_seconds)
                    self.close_connection = True
                    return
                if fault in {"429", "500", "503"}:
                    self._answer(int(fault), {"errors": [{"message": "try later"}]})
                    return
                problems = [k for k in ("personalizations", "from", "template_id") if k not in body]
                if problems:
                    self._answer(400, {"errors": [{"message": f"missing {p}"} for p in problems]})
                    return
                with fake._lock:
                    fake.accepted.append(body)
                    message_id = f"msg-{len(fake.accepted):06d}"
                self.send_response(202)
                self.send_header("X-Message-Id", message_id)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeSendGrid:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def deliveries(self) -> Counter[str]:
        """How many times each ledger key was accepted."""
        return Counter(m.get("custom_args", {}).get("ledger_key", "?") for m in self.accepted)
