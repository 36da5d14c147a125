"""Exactly once when the outcome is unknown: the official clients against local fakes with 30% faults, and a
sending process killed with SIGKILL while a request is in flight, then re-runs. Duplicates and losses are
counted from the fakes' own logs of what they accepted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from churn_platform.lib.delivery.events import EventReceiver
from churn_platform.lib.retention.pipeline import deliver
from churn_platform.settings import PROJECT_ROOT
from tests.delivery import warehouse as wh
from tests.delivery.fakes import FakeProvider, FakeSendGrid, FakeTwilio, FaultPlan
from tests.delivery.worker import channels_from

TIMEOUT = 0.3  # the client's timeout; slow replies are held past it
HOLD = 0.6
SETTLE = 0.8  # how long an unknown outcome waits for the provider's record before "not accepted"
SID, TOKEN, FROM = "AC" + "0" * 32, "twilio-token", "+15550000000"
RESULTS = PROJECT_ROOT / "data" / "test-results"


def report(
    name: str, fake: FakeProvider, keys: set[str], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The counts a reader checks, from the fake's log; printed and kept under data/test-results/."""
    counts = {
        "test": name, "messages": len(keys), "requests": fake.requests, "accepted": len(fake.accepted),
        "duplicates": fake.duplicates(), "lost": fake.lost(keys), "faults": dict(fake.faults.drawn),
        **(extra or {}),
    }  # fmt: skip
    print(json.dumps(counts))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(counts, indent=1))
    return counts


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[EventReceiver]:
    with EventReceiver(tmp_path / "events", twilio_auth_token=TOKEN) as running:
        yield running


def config(
    tmp_path: Path, warehouse: Path, channel: str, fake: FakeProvider, receiver: EventReceiver
) -> dict[str, Any]:
    found: dict[str, Any] = {"warehouse": str(warehouse), "outbox": str(tmp_path / "outbox"),
                             "events": str(receiver.events_dir), "max_attempts": 4, "backoff": 0.01}  # fmt: skip
    if channel == "email":
        found["sendgrid"] = {"key": "SG.k", "host": fake.url, "timeout": TIMEOUT, "settle": SETTLE}
    else:
        found["twilio"] = {"sid": SID, "token": TOKEN, "from": FROM, "base_url": fake.url, "timeout": TIMEOUT,
                           "settle": SETTLE, "callback": f"{receiver.url}/twilio/status"}  # fmt: skip
    return found


def make_fake(channel: str, rate: float, seed: int, receiver: EventReceiver) -> FakeProvider:
    plan = FaultPlan(rate=rate, seed=seed)
    if channel == "email":
        return FakeSendGrid("SG.k", plan, HOLD, events_url=f"{receiver.url}/sendgrid/events")
    return FakeTwilio(SID, TOKEN, plan, HOLD)


def run_until_settled(cfg: dict[str, Any], runs: int = 12) -> int:
    """Re-run delivery (as the next campaign run would) until nothing is pending or unknown."""
    for n in range(1, runs + 1):
        deliver(
            Path(cfg["warehouse"]), channels_from(cfg), wh.policy(), events_dir=Path(cfg["events"]),
            max_attempts=cfg["max_attempts"], backoff_seconds=cfg["backoff"],
        )  # fmt: skip
        ledger = wh.ledger(Path(cfg["warehouse"]))
        if not ledger["status"].isin(["pending", "unknown", "sending"]).any():
            return n
        time.sleep(SETTLE / 2)
    return runs


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_thirty_percent_faults_deliver_each_message_exactly_once(
    tmp_path: Path, receiver: EventReceiver, channel: str
) -> None:
    warehouse, keys = wh.campaign(tmp_path / "wh.duckdb", {channel: 60})
    with make_fake(channel, 0.30, seed=7, receiver=receiver) as fake:
        cfg = config(tmp_path, warehouse, channel, fake, receiver)
        runs = run_until_settled(cfg)
        counts = report(f"faults_30pct_{channel}", fake, keys, {"runs": runs})
    assert sum(counts["faults"].get(f, 0) for f in ("slow", "500_accepted")) >= 5, "unknown outcomes happened"
    assert counts["faults"].get("429", 0) >= 2
    assert counts["duplicates"] == 0
    assert counts["lost"] == 0
    ledger = wh.ledger(warehouse)
    assert (ledger["status"] == "sent").all()
    assert ledger["message_id"].notna().all()
    assert ledger["reason"].fillna("").str.startswith("reconciled").any(), "some outcomes were reconciled"


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_kill_9_mid_request_then_rerun_delivers_exactly_once(
    tmp_path: Path, receiver: EventReceiver, channel: str
) -> None:
    warehouse, keys = wh.campaign(tmp_path / "wh.duckdb", {channel: 40})
    with make_fake(channel, 0.30, seed=11, receiver=receiver) as fake:
        cfg = config(tmp_path, warehouse, channel, fake, receiver)
        path = tmp_path / "worker.json"
        path.write_text(json.dumps(cfg))
        fake.block_on(12)  # the 12th message is accepted and its answer never comes: kill now
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.delivery.worker", str(path)], cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert fake.blocked.wait(120), (
                worker.stderr.read().decode() if worker.poll() is not None else "no request"
            )
            os.kill(worker.pid, signal.SIGKILL)
            assert worker.wait(30) == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
            fake.release()
        at_kill = len(fake.accepted)
        in_flight = wh.ledger(warehouse)
        assert (in_flight["status"] == "sending").sum() == 1, (
            "the request in flight was marked before it left"
        )
        runs = run_until_settled(cfg)
        counts = report(
            f"kill9_{channel}", fake, keys, {"runs_after_kill": runs, "accepted_before_kill": at_kill}
        )
    assert 0 < at_kill < len(keys)
    assert counts["duplicates"] == 0
    assert counts["lost"] == 0
    assert (wh.ledger(warehouse)["status"] == "sent").all()


def test_without_reconciliation_a_timed_out_message_would_be_sent_twice(
    tmp_path: Path, receiver: EventReceiver
) -> None:
    """The fake really accepts what it answers slowly: blindly retrying a timeout duplicates (the bug this fixes)."""
    from churn_platform.lib.delivery.channels import SendGridChannel
    from churn_platform.lib.delivery.core import OutcomeUnknownError, Outgoing

    with FakeSendGrid("SG.k", FaultPlan(script=["slow", "ok"]), HOLD) as fake:
        channel = SendGridChannel("SG.k", fake.url, "s@example.com", timeout=TIMEOUT)
        message = Outgoing(key="k|1|1", to="a@example.com", subject="s", text="t")
        with pytest.raises(OutcomeUnknownError):
            channel.send(message)
        channel.send(message)  # what a blind retry does
        assert fake.deliveries()["k|1|1"] == 2
