"""Local stand-ins for HubSpot's batch upsert API and Salesforce's Bulk API (v1, JSON), with injected faults.

Each fake is a real HTTP server on 127.0.0.1 speaking the provider's wire format, so the official clients
(``hubspot-api-client``, ``simple-salesforce``) are exercised end to end. Faults are drawn from a seeded
generator: a whole request answered 429 (nothing accepted), and single records of an accepted request that fail
transiently (HubSpot: a RATE_LIMITS error in a 207 multi-status; Salesforce: UNABLE_TO_LOCK_ROW). Every record
actually written is appended to ``writes``: the test counts writes from this log. Ids in ``refuse`` are refused
for good (a validation error).
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeCrm:
    fault_rate: float = 0.3
    seed: int = 0
    token: str = "test-token"
    refuse: set[str] = field(default_factory=set)
    writes: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    rejected_requests: int = 0  # answered 429
    failed_records: int = 0  # transient per-record failures
    port: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()

    def fault(self) -> bool:
        with self.lock:
            return self.rng.random() < self.fault_rate

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def written_ids(self) -> list[str]:
        return [str(w["id"]) for w in self.writes]


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


class _Handler(BaseHTTPRequestHandler):
    fake: FakeCrm

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")


class _HubSpot(_Handler):
    def do_POST(self) -> None:
        fake = self.fake
        with fake.lock:
            fake.requests += 1
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            self._json(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
            )
            return
        if not (self.path.startswith("/crm/v3/objects/") and self.path.endswith("/batch/upsert")):
            self._json(404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"})
            return
        inputs = self._body()["inputs"]
        if fake.fault():
            with fake.lock:
                fake.rejected_requests += 1
            self._json(
                429,
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "category": "RATE_LIMITS",
                },
            )
            return
        results, errors = [], []
        for item in inputs:
            key = str(item["id"])
            trace = item.get("objectWriteTraceId")
            if key in fake.refuse:
                errors.append({"status": "error", "category": "VALIDATION_ERROR", "message": f"Property values were not valid for {key}",
                               "context": {"objectWriteTraceId": [trace]}})  # fmt: skip
                continue
            if fake.fault():
                with fake.lock:
                    fake.failed_records += 1
                errors.append({"status": "error", "category": "RATE_LIMITS", "message": "Too many writes to this record",
                               "context": {"objectWriteTraceId": [trace]}})  # fmt: skip
                continue
            with fake.lock:
                fake.writes.append({"id": key, "properties": item["properties"]})
                number = len(fake.writes)
            results.append({"id": str(10_000 + number), "objectWriteTraceId": trace, "new": True,
                            "properties": {**item["properties"], item["idProperty"]: key},
                            "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-01T00:00:00Z", "archived": False})  # fmt: skip
        now = "2025-01-01T00:00:00Z"
        if errors:
            self._json(207, {"status": "COMPLETE", "results": results, "errors": errors, "numErrors": len(errors),
                             "requestedAt": now, "startedAt": now, "completedAt": now})  # fmt: skip
        else:
            self._json(
                200,
                {
                    "status": "COMPLETE",
                    "results": results,
                    "requestedAt": now,
                    "startedAt": now,
                    "completedAt": now,
                },
            )


class _Salesforce(_Handler):
    jobs: dict[str, dict[str, Any]]
    batches: dict[str, list[dict[str, Any]]]
    ids: Iterator[int]

    def _authorised(self) -> bool:
        if self.headers.get("X-SFDC-Session") != self.fake.token:
            self._json(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
            return False
        return True

    def do_POST(self) -> None:
        fake = self.fake
        with fake.lock:
            fake.requests += 1
        if not self._authorised():
            return
        parts = self.path.strip("/").split("/")  # services/async/<v>/job[/<id>[/batch]]
        body = self._body()
        creates = parts[3:] == ["job"] or (len(parts) == 6 and parts[5] == "batch")
        if creates and fake.fault():  # nothing is accepted: the job or batch is not created
            with fake.lock:
                fake.rejected_requests += 1
            self._json(
                429,
                [
                    {
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                        "message": "ConcurrentPerOrgLongTxn Limit exceeded",
                    }
                ],
            )
            return
        if parts[3:] == ["job"]:
            job = f"750{next(self.ids):012d}"
            self.jobs[job] = {"id": job, "state": "Open", **body}
            self._json(201, self.jobs[job])
        elif len(parts) == 6 and parts[5] == "batch":
            job = self.jobs[parts[4]]
            batch = f"751{next(self.ids):012d}"
            results = []
            for record in body:
                key = str(record[job["externalIdFieldName"]])
                if key in fake.refuse:
                    results.append({"success": False, "created": False, "id": None,
                                    "errors": [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "invalid", "fields": []}]})  # fmt: skip
                elif fake.fault():
                    with fake.lock:
                        fake.failed_records += 1
                    results.append({"success": False, "created": False, "id": None,
                                    "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record", "fields": []}]})  # fmt: skip
                else:
                    with fake.lock:
                        fake.writes.append({"id": key, "record": record})
                    results.append(
                        {"success": True, "created": True, "id": f"001{next(self.ids):012d}", "errors": []}
                    )
            self.batches[batch] = results
            self._json(201, {"id": batch, "jobId": parts[4], "state": "Queued"})
        elif len(parts) == 5:
            self.jobs[parts[4]]["state"] = body.get("state", "Closed")
            self._json(200, self.jobs[parts[4]])
        else:
            self._json(404, [{"errorCode": "NOT_FOUND", "message": self.path}])

    def do_GET(self) -> None:
        with self.fake.lock:
            self.fake.requests += 1
        if not self._authorised():
            return
        parts = self.path.strip("/").split("/")
        if len(parts) == 7 and parts[5] == "batch":
            self._json(200, {"id": parts[6], "jobId": parts[4], "state": "Completed"})
        elif len(parts) == 8 and parts[7] == "result":
            self._json(200, self.batches[parts[6]])
        else:
            self._json(404, [{"errorCode": "NOT_FOUND", "message": self.path}])


@contextmanager
def fake_hubspot(**options: Any) -> Iterator[FakeCrm]:
    fake = FakeCrm(**options)
    handler = type("Handler", (_HubSpot,), {"fake": fake})
    server, _thread = _serve(handler)
    fake.port = server.server_address[1]
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def fake_salesforce(**options: Any) -> Iterator[FakeCrm]:
    fake = FakeCrm(**options)
    handler = type(
        "Handler", (_Salesforce,), {"fake": fake, "jobs": {}, "batches": {}, "ids": itertools.count(1)}
    )
    server, _thread = _serve(handler)
    fake.port = server.server_address[1]
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
