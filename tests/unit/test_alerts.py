"""Alerts: the builders fire on findings and only on them; delivery reaches a real local webhook and the outbox
once per channel, retries what may pass next time, and never lets the webhook's secret URL out."""

from __future__ import annotations

import email
import functools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from churn_platform.lib.alerts import (
    Alert,
    campaign_alerts,
    deliver_alerts,
    drift_alerts,
    newly_critical_alerts,
    slack_payload,
)
from churn_platform.lib.retention.delivery import Message, OutboxSender, post_json
from churn_platform.lib.retention.outcomes import campaign_outcomes

SECRET = "T000/B000/s3cr3t-T0KEN-xyz"
SCORED_AT = pd.Timestamp("2026-01-01 06:30:00")


class FakeWebhook:
    """A Slack-style incoming webhook on 127.0.0.1 with scripted answers.

    ``script`` is consumed one entry per request: an HTTP status to answer with, or ``"hang"`` to hold the
    request past the client's timeout and drop it. Once empty, requests are accepted with 200 ``ok``. A 400
    answers like Slack's ``invalid_payload`` but echoes the request path, where the secret lives.
    """

    def __init__(self) -> None:
        self.script: list[int | str] = []
        self.accepted: list[dict[str, Any]] = []
        self.requests = 0
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook._lock:
                    hook.requests += 1
                    answer = hook.script.pop(0) if hook.script else 200
                if answer == "hang":
                    time.sleep(0.5)
                    self.close_connection = True
                    return
                if answer == 200:
                    with hook._lock:
                        hook.accepted.append(body)
                text = b"ok" if answer == 200 else f"invalid_payload for {self.path}".encode()
                self.send_response(int(answer))
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    fake = FakeWebhook()
    yield fake
    fake.close()


def alert(key: str = "drift:run-1", severity: str = "warning") -> Alert:
    return Alert(
        key=key,
        kind="feature_drift",
        severity=severity,  # type: ignore[arg-type]
        title=f"Feature drift <{key}>",
        text="7 of 20 columns drifted (35.0%).",
        fields={"drifted columns": "7 of 20", "model version": "3"},
    )


def alert_log(warehouse: Path) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select * from monitoring.alert_log order by sent_at, alert_key, channel").df()
    finally:
        con.close()


def no_sleep(seconds: float) -> None:
    pass


# ------------------------------------------------------------------------------------------ builders


def changes(
    rows: list[tuple[str, str | None, str, float]], scored_at: pd.Timestamp = SCORED_AT
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "previous_tier", "current_tier", "churn_probability"])
    frame["direction"] = [
        "new" if p is None else "up" if c in {"critical", "high"} and p in {"low", "medium"} else "down"
        for p, c in zip(frame["previous_tier"], frame["current_tier"], strict=True)
    ]
    frame["snapshot_date"] = pd.Timestamp("2026-01-01")
    frame["scored_at"] = scored_at
    return frame


def test_no_alert_when_nobody_became_critical() -> None:
    quiet = changes(
        [("c1", "low", "high", 0.5), ("c2", "critical", "high", 0.6), ("c3", None, "medium", 0.3)]
    )
    assert newly_critical_alerts(quiet) == []
    assert newly_critical_alerts(quiet.iloc[0:0]) == []


def test_newly_critical_counts_risers_and_first_scored_and_names_the_top_five() -> None:
    rows = [(f"c{i}", "high" if i % 3 else None, "critical", 0.5 + i / 100) for i in range(1, 8)]
    frame = changes(
        [
            *rows,
            ("d1", "low", "high", 0.99),
            ("d2", "critical", "high", 0.98),
            ("d3", "critical", "critical", 0.97),
        ]
    )
    [found] = newly_critical_alerts(frame)
    assert found.key == "newly_critical:2026-01-01T06:30:00"
    assert found.severity == "critical"
    assert found.title == "7 customers newly critical"
    assert "5 rose from a lower tier, 2 scored for the first time" in found.text
    assert "c7 (57%), c6 (56%), c5 (55%), c4 (54%), c3 (53%)" in found.text
    assert "c2 " not in found.text
    assert "d1" not in found.text
    assert "d3" not in found.text
    assert newly_critical_alerts(frame, min_customers=8) == []


def test_each_scoring_run_gets_its_own_alert() -> None:
    later = SCORED_AT + pd.Timedelta(days=7)
    frame = pd.concat(
        [changes([("c1", "high", "critical", 0.9)]), changes([("c2", None, "critical", 0.8)], later)]
    )
    assert [a.key for a in newly_critical_alerts(frame)] == [
        "newly_critical:2026-01-01T06:30:00",
        "newly_critical:2026-01-08T06:30:00",
    ]


def report_runs() -> pd.DataFrame:
    rows = [
        # report, run_id, drift_share, drifted, columns, dataset_drift, roc_auc
        ("feature_drift", "f-calm", 0.10, 2, 20, False, np.nan),
        ("feature_drift", "f-share", 0.35, 7, 20, False, np.nan),
        ("feature_drift", "f-edge", 0.30, 6, 20, False, np.nan),
        ("prediction_drift", "p-flagged", 0.0, 0, 1, True, np.nan),
        ("prediction_drift", "p-calm", 0.0, 0, 1, False, np.nan),
        ("model_performance", "m-weak", np.nan, 0, 0, None, 0.62),
        ("model_performance", "m-fine", np.nan, 0, 0, None, 0.81),
        ("model_performance", "m-unknown", np.nan, 0, 0, None, np.nan),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["report", "run_id", "drift_share", "drifted_columns", "columns", "dataset_drift", "roc_auc"],
    )
    frame["run_at"] = pd.date_range("2026-01-01", periods=len(frame), freq="h")
    frame["html_path"] = [f"/reports/{r}.html" for r in frame["run_id"]]
    frame["model_version"] = "3"
    return frame


def test_drift_alerts_fire_at_the_threshold_or_when_evidently_calls_drift() -> None:
    found = drift_alerts(report_runs(), drift_share_threshold=0.3, min_roc_auc=0.7)
    assert [a.key for a in found] == ["drift:f-share", "drift:f-edge", "drift:p-flagged", "drift:m-weak"]
    by_key = {a.key: a for a in found}
    assert "7 of 20 columns drifted (35.0%" in by_key["drift:f-share"].text
    assert by_key["drift:m-weak"].severity == "critical"
    assert "0.620" in by_key["drift:m-weak"].text
    assert "0.700" in by_key["drift:m-weak"].text
    assert by_key["drift:f-share"].link == "/reports/f-share.html"


def test_drift_alerts_stay_quiet_below_the_threshold_and_without_a_minimum_auc() -> None:
    found = drift_alerts(report_runs(), drift_share_threshold=0.5, min_roc_auc=None)
    assert [a.key for a in found] == ["drift:p-flagged"]


def test_performance_alerts_follow_the_champions_own_validation() -> None:
    runs = report_runs()
    runs = runs[runs["report"] == "model_performance"].copy()
    # m-weak: 0.62 where the champion validated at 0.66 (a weak company, a small drop); m-fine: 0.81 after 0.86
    runs["reference_roc_auc"] = [0.66, 0.86, 0.80]
    found = drift_alerts(runs, drift_share_threshold=0.3, min_roc_auc=None, max_roc_auc_drop=0.03)
    assert [a.key for a in found] == ["drift:m-weak", "drift:m-fine"]
    fine = found[1]
    assert "0.050 below the champion's validation ROC AUC of 0.860 (allowed drop 0.030)" in fine.text
    assert fine.fields["validation roc auc"] == "0.860"
    assert "minimum" not in fine.fields
    assert drift_alerts(runs, 0.3, min_roc_auc=None, max_roc_auc_drop=0.05) == []
    both = drift_alerts(runs, 0.3, min_roc_auc=0.7, max_roc_auc_drop=0.03)[0]
    assert "below the champion's validation" in both.text
    assert "below the minimum of 0.700" in both.text
    # rows written before reference_roc_auc existed are judged by the floor alone
    assert [a.key for a in drift_alerts(report_runs(), 0.3, None, 0.03)] == [
        "drift:f-share", "drift:f-edge", "drift:p-flagged"
    ]  # fmt: skip


def outcomes(arms: dict[tuple[str, str], tuple[int, int, int, int]]) -> pd.DataFrame:
    """Real ``retention.outcomes`` rows from (snapshot, playbook) -> (treated, treated churned, control, churned)."""
    decisions, labels = [], []
    for (snapshot, playbook), (nt, ct, nc, cc) in arms.items():
        for decision, n, churned in (("treat", nt, ct), ("control", nc, cc)):
            for i in range(n):
                cid = f"{playbook}-{decision}-{i}"
                decisions.append((cid, pd.Timestamp(snapshot), decision, playbook, "high", 100.0 + i, 5.0))
                labels.append((cid, pd.Timestamp(snapshot), i < churned))
    return campaign_outcomes(
        pd.DataFrame(
            decisions,
            columns=[
                "customer_id",
                "snapshot_date",
                "decision",
                "playbook",
                "risk_tier",
                "customer_value",
                "offer_cost",
            ],
        ),
        pd.DataFrame(labels, columns=["customer_id", "snapshot_date", "churned"]),
    )


def test_a_campaign_significantly_worse_than_control_is_flagged_and_a_neutral_one_is_not() -> None:
    table = outcomes(
        {
            ("2026-01-01", "rescue-support"): (200, 80, 100, 10),  # 40% vs 10%: interval well below zero
            ("2026-01-01", "win-back-nps"): (200, 40, 100, 20),  # 20% vs 20%: interval covers zero
        }
    )
    found = campaign_alerts(table)
    assert [a.key for a in found] == [
        "campaign_underperforms:2026-01-01:overall:all",
        "campaign_underperforms:2026-01-01:playbook:rescue-support",
    ]
    harmful = found[1]
    assert harmful.severity == "critical"
    assert harmful.fields["campaign"] == "2026-01-01:rescue-support"
    assert "40.0% of 200 vs 10.0% of 100" in harmful.text
    assert "-30.0 pts" in harmful.text


def test_the_point_estimate_rule_is_opt_in_and_needs_enough_customers() -> None:
    table = outcomes({("2026-02-01", "explore-features"): (100, 30, 40, 8)})  # 30% vs 20%, inconclusive
    row = table[table["dimension"] == "playbook"].iloc[0]
    assert row["save_rate_low"] < 0 < row["save_rate_high"]
    assert campaign_alerts(table) == []
    [early] = campaign_alerts(table, min_effect=0.05, min_group_size=40, dimensions=["playbook"])
    assert early.severity == "warning"
    assert early.key == "campaign_underperforms:2026-02-01:playbook:explore-features"
    assert campaign_alerts(table, min_effect=0.05, min_group_size=41) == []
    assert campaign_alerts(table, min_effect=0.15, min_group_size=10) == []


def test_slack_payload_escapes_and_carries_the_numbers() -> None:
    payload = slack_payload(alert("k&1"))
    assert payload["text"].startswith("[warning] Feature drift &lt;k&amp;1&gt;")
    assert payload["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Feature drift &lt;k&amp;1&gt;"},
    }
    assert {"type": "mrkdwn", "text": "*drifted columns*\n7 of 20"} in payload["blocks"][2]["fields"]


# ------------------------------------------------------------------------------------------ delivery


def test_each_alert_reaches_the_webhook_once_however_often_delivery_runs(
    tmp_path: Path, hook: FakeWebhook
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    alerts = [alert("drift:run-1"), alert("drift:run-2")]
    first = deliver_alerts(alerts, warehouse, hook.url, sleep=no_sleep)
    second = deliver_alerts([*alerts, alert("drift:run-3")], warehouse, hook.url, sleep=no_sleep)
    assert first.sent == {"webhook": 2}
    assert second.sent == {"webhook": 1}
    assert second.skipped_already_sent == {"webhook": 2}
    assert [b["blocks"][0]["text"]["text"] for b in hook.accepted] == [
        "Feature drift &lt;drift:run-1&gt;",
        "Feature drift &lt;drift:run-2&gt;",
        "Feature drift &lt;drift:run-3&gt;",
    ]
    log = alert_log(warehouse)
    assert list(log.columns) == ["alert_key", "channel", "sent_at", "status", "detail"]
    assert log[["alert_key", "channel", "status"]].values.tolist() == [
        ["drift:run-1", "webhook", "sent"],
        ["drift:run-2", "webhook", "sent"],
        ["drift:run-3", "webhook", "sent"],
    ]


def test_a_key_listed_twice_in_one_call_is_posted_once(tmp_path: Path, hook: FakeWebhook) -> None:
    report = deliver_alerts([alert(), alert()], tmp_path / "w.duckdb", hook.url, sleep=no_sleep)
    assert report.sent == {"webhook": 1}
    assert len(hook.accepted) == 1


def test_a_5xx_is_retried_with_backoff_and_delivered_once(tmp_path: Path, hook: FakeWebhook) -> None:
    hook.script = [500, 503]
    sleeps: list[float] = []
    report = deliver_alerts(
        [alert()], tmp_path / "w.duckdb", hook.url, backoff_seconds=0.1, sleep=sleeps.append
    )
    assert report.sent == {"webhook": 1}
    assert not report.failed
    assert hook.requests == 3
    assert len(hook.accepted) == 1
    assert sleeps == [0.1, 0.2]


def test_persistent_5xx_is_logged_failed_and_delivered_on_the_next_call(
    tmp_path: Path, hook: FakeWebhook
) -> None:
    warehouse = tmp_path / "w.duckdb"
    outbox = OutboxSender(tmp_path / "outbox")
    hook.script = [500, 500, 500]
    first = deliver_alerts([alert()], warehouse, hook.url, outbox, ["ops@example.com"], sleep=no_sleep)
    assert first.failed == {"webhook": 1}
    assert first.sent == {"email:ops@example.com": 1}, "a failing webhook does not hold back the email"
    assert hook.requests == 3
    assert hook.accepted == []
    assert "webhook answered 500 (after 3 attempts)" in first.failures[0]

    second = deliver_alerts([alert()], warehouse, hook.url, outbox, ["ops@example.com"], sleep=no_sleep)
    assert second.sent == {"webhook": 1}
    assert second.skipped_already_sent == {"email:ops@example.com": 1}
    assert len(hook.accepted) == 1
    log = alert_log(warehouse)
    webhook_rows = log[log["channel"] == "webhook"]
    assert webhook_rows["status"].tolist() == ["failed", "sent"]


def test_a_4xx_is_rejected_with_its_reason_and_not_retried(tmp_path: Path, hook: FakeWebhook) -> None:
    warehouse = tmp_path / "w.duckdb"
    hook.script = [400]
    first = deliver_alerts([alert()], warehouse, hook.url, sleep=no_sleep)
    assert first.rejected == {"webhook": 1}
    assert hook.requests == 1
    second = deliver_alerts([alert()], warehouse, hook.url, sleep=no_sleep)
    assert second.skipped_rejected == {"webhook": 1}
    assert hook.requests == 1
    [row] = alert_log(warehouse).to_dict("records")
    assert row["status"] == "rejected"
    assert row["detail"].startswith("webhook refused the message: 400 invalid_payload")


def test_timeouts_and_refused_connections_are_transient(tmp_path: Path, hook: FakeWebhook) -> None:
    hook.script = ["hang"]
    quick = functools.partial(post_json, timeout=0.2)
    report = deliver_alerts([alert()], tmp_path / "a.duckdb", hook.url, post=quick, sleep=no_sleep)
    assert report.sent == {"webhook": 1}
    assert hook.requests == 2

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/services/{SECRET}"
    refused = deliver_alerts([alert()], tmp_path / "b.duckdb", closed, max_attempts=2, sleep=no_sleep)
    assert refused.failed == {"webhook": 1}
    assert "no answer from webhook" in refused.failures[0]
    assert alert_log(tmp_path / "b.duckdb")["status"].tolist() == ["failed"]


def read_eml(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes())


def test_email_alerts_land_in_the_outbox_once_per_recipient(tmp_path: Path) -> None:
    outbox = OutboxSender(tmp_path / "outbox")
    warehouse = tmp_path / "w.duckdb"
    recipients = ["ops@example.com", "ml@example.com"]
    first = deliver_alerts([alert(severity="critical")], warehouse, None, outbox, recipients)
    second = deliver_alerts([alert(severity="critical")], warehouse, None, outbox, recipients)
    assert sum(first.sent.values()) == 2
    assert sum(second.skipped_already_sent.values()) == 2
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    mail = read_eml(files[0])
    assert mail["Subject"] == "[CRITICAL] Feature drift <drift:run-1>"
    assert mail["X-Template-Id"] == "alert"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "7 of 20 columns drifted (35.0%)." in body
    assert "drifted columns: 7 of 20" in body
    assert "Template data" not in body


def test_an_email_written_before_a_crash_is_recognised_not_resent(tmp_path: Path) -> None:
    outbox = OutboxSender(tmp_path / "outbox")
    warehouse = tmp_path / "w.duckdb"
    deliver_alerts([alert()], warehouse, None, outbox, ["ops@example.com"])
    [path] = (tmp_path / "outbox").glob("*.eml")
    path.write_bytes(b"Subject: original\n\nkept")
    with duckdb.connect(str(warehouse)) as con:  # the crash lost the log row
        con.execute("delete from monitoring.alert_log")
    report = deliver_alerts([alert()], warehouse, None, outbox, ["ops@example.com"])
    assert report.sent == {"email:ops@example.com": 1}
    assert path.read_bytes() == b"Subject: original\n\nkept"
    assert "found already delivered" in alert_log(warehouse)["detail"].iloc[0]


def test_outbox_emails_carry_their_subject_text_and_key(tmp_path: Path) -> None:
    text = "Hello Acme,\n\nWe noticed fewer logins.\n\nWe would like to offer you a free month."
    OutboxSender(tmp_path).send(
        Message("c|1|1", "a@example.com", "Acme", "d-123", {}, "Acme, a free month", text)
    )
    mail = read_eml(tmp_path / "c_1_1.eml")
    assert mail["Subject"] == "Acme, a free month"
    assert mail["To"] == "Acme <a@example.com>"
    assert mail["X-Ledger-Key"] == "c|1|1"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert body.startswith(text)


def test_the_webhook_url_never_leaks(
    tmp_path: Path, hook: FakeWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    warehouse = tmp_path / "w.duckdb"
    hook.script = [500, 500, 400]  # run-1 fails twice then is refused with the path echoed back
    reports = [
        deliver_alerts(
            [alert("drift:run-1"), alert("drift:run-2")], warehouse, hook.url, max_attempts=2, sleep=no_sleep
        )
        for _ in range(2)
    ]
    log = alert_log(warehouse)
    assert set(log["status"]) == {"failed", "rejected", "sent"}, "every path was taken"
    assert "invalid_payload for webhook (after 1 attempt)" in " ".join(log["detail"]), "the echo was redacted"
    assert "drift:run-1" in caplog.text
    assert "drift:run-2" in caplog.text
    for text in [*log.astype(str).to_numpy().ravel(), *map(repr, reports), caplog.text]:
        assert SECRET not in text
        assert "s3cr3t" not in text
        assert hook.url not in text


def test_an_email_sender_needs_recipients(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without recipients"):
        deliver_alerts([alert()], tmp_path / "w.duckdb", None, OutboxSender(tmp_path / "outbox"), [])


def test_the_same_finding_on_the_same_data_and_model_is_one_alert(tmp_path: Path, hook: FakeWebhook) -> None:
    """A retraining that keeps the champion re-runs every report on the same month: the team hears it once."""
    runs = report_runs()
    runs = runs[runs["run_id"] == "f-share"]
    again = runs.assign(run_id="f-share-rerun", run_at=runs["run_at"] + pd.Timedelta(minutes=5))
    new_model = runs.assign(run_id="f-share-v4", model_version="4")
    frame = pd.concat([runs, again, new_model]).assign(data_snapshot=pd.Timestamp("2026-02-01"))
    alerts = drift_alerts(frame, drift_share_threshold=0.3)
    assert sorted(a.key for a in alerts) == [
        "drift:feature_drift:2026-02-01:v3",
        "drift:feature_drift:2026-02-01:v3",
        "drift:feature_drift:2026-02-01:v4",
    ]
    report = deliver_alerts(alerts, tmp_path / "wh.duckdb", webhook_url=hook.url, sleep=no_sleep)
    assert report.sent["webhook"] == 2
    assert len(hook.accepted) == 2
    rows = [("c1", "high", "critical", 0.9), ("c2", None, "critical", 0.85)]
    first = changes(rows).assign(snapshot_date=pd.Timestamp("2026-02-01"), model_version="3")
    rescored = first.assign(scored_at=first["scored_at"] + pd.Timedelta(hours=1))
    keys = {a.key for a in newly_critical_alerts(pd.concat([first, rescored]))}
    assert keys == {"newly_critical:2026-02-01:v3"}
