"""Who may be contacted, and delivery exactly once through a real SendGrid client against a local fake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_platform.lib.retention.delivery import (
    OutboxSender,
    SendGridSender,
    deliver_pending,
    ensure_ledger,
    queue_targets,
)
from churn_platform.lib.retention.policy import RetentionPolicyError, load_retention_policy
from churn_platform.lib.retention.targets import select_targets
from churn_platform.settings import PROJECT_ROOT
from tests.retention.fake_sendgrid import FakeSendGrid

POLICY_FILE = PROJECT_ROOT / "churn_platform" / "policies" / "retention_policy.yaml"
DAY = dt.date(2026, 1, 1)
FEATURES = [
    "events_change_pct",
    "unresolved_tickets",
    "failed_payments_90d",
    "latest_nps",
    "tenure_days",
    None,
]


def population(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"C{i:08d}" for i in range(n)]
    p = rng.uniform(0, 1, n)
    tier = np.where(p >= 0.8, "critical", np.where(p >= 0.6, "high", np.where(p >= 0.3, "medium", "low")))
    scores = pd.DataFrame(
        {
            "customer_id": ids,
            "snapshot_date": pd.Timestamp(DAY),
            "churn_probability": p,
            "risk_tier": tier,
            "top_feature": rng.choice(np.array(FEATURES, dtype=object), n),
            "model_version": "3",
            "policy_version": "p1",
            "reason_1": "usage down 40% in the last 30 days",
            "reason_2": None,
            "reason_3": None,
        }
    )
    values = pd.DataFrame(
        {"customer_id": ids, "customer_value": rng.uniform(0, 5000, n), "valuable": rng.random(n) < 0.8}
    )
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "marketing_consent": rng.random(n) < 0.7,
            "is_unsubscribed": rng.random(n) < 0.1,
            "name": [f"Company {i}" for i in range(n)],
            "email": [f"c{i}@example.com" for i in range(n)],
            "account_manager": rng.choice(["Ana", "Ben", None], n),
        }
    )
    recent = rng.random(n) < 0.2
    contacts = pd.DataFrame(
        {
            "customer_id": np.array(ids)[recent],
            "last_contacted_on": [
                pd.Timestamp(DAY) - pd.Timedelta(days=int(d)) for d in rng.integers(1, 60, recent.sum())
            ],
        }
    )
    return scores, values, customers, contacts


def _decide(n: int = 2000, seed: int = 0, **overrides: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    scores, values, customers, contacts = population(n, seed)
    policy = load_retention_policy(POLICY_FILE).model_copy(update=overrides)
    targets = select_targets(scores, values, customers, contacts, policy, DAY)
    return targets, customers.merge(contacts, on="customer_id", how="left")


def _violations(targets: pd.DataFrame, people: pd.DataFrame, cooldown_days: int) -> pd.DataFrame:
    treated = targets[targets["decision"] == "treat"].merge(people, on="customer_id", suffixes=("", "_p"))
    recent = pd.to_datetime(treated["last_contacted_on_p"]) > pd.Timestamp(DAY) - pd.Timedelta(
        days=cooldown_days
    )
    bad = (~treated["marketing_consent_p"].astype(bool)) | treated["is_unsubscribed_p"].astype(bool) | recent
    bad |= ~treated["valuable"].astype(bool)
    return treated[bad]


def test_every_actionable_customer_gets_one_stamped_decision() -> None:
    targets, _ = _decide()
    assert targets["customer_id"].is_unique
    assert set(targets["risk_tier"]) <= {"critical", "high", "medium"}
    assert {"treat", "control", "not_valuable", "no_consent", "unsubscribed", "cooldown"} <= set(
        targets["decision"]
    )
    assert (targets["model_version"] == "3").all()
    assert targets["retention_policy_version"].eq(load_retention_policy(POLICY_FILE).version).all()
    treat = targets[targets["decision"] == "treat"]
    assert treat["playbook"].notna().all()
    assert treat["campaign_id"].str.startswith("2026-01-01:").all()


def test_control_is_random_stratified_and_seeded() -> None:
    targets, _ = _decide(n=6000)
    chosen = targets[targets["decision"].isin(["treat", "control"])]
    for tier, group in chosen.groupby("risk_tier"):
        share = (group["decision"] == "control").mean()
        assert abs(share - 0.10) < 0.02, tier
    again, _ = _decide(n=6000)
    pd.testing.assert_series_equal(targets["decision"], again["decision"])
    other, _ = _decide(n=6000, control_seed=99)
    assert not targets["decision"].equals(other["decision"])


def test_capacity_limits_each_channel() -> None:
    targets, _ = _decide(n=20000)
    policy = load_retention_policy(POLICY_FILE)
    for channel, rules in policy.channels.items():
        treated = ((targets["decision"] == "treat") & (targets["channel"] == channel)).sum()
        assert treated <= rules.daily_capacity
    assert (targets["decision"] == "over_capacity").any()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=400),
    seed=st.integers(min_value=0, max_value=10_000),
    control=st.floats(min_value=0.0, max_value=0.5),
    cooldown=st.integers(min_value=0, max_value=90),
)
def test_nobody_who_must_not_be_reached_is_ever_targeted(
    n: int, seed: int, control: float, cooldown: int
) -> None:
    targets, people = _decide(n=n, seed=seed, control_share=control, cooldown_days=cooldown)
    assert _violations(targets, people, cooldown).empty
    assert not set(targets.loc[targets["decision"] == "control", "customer_id"]) & set(
        targets.loc[targets["decision"] == "treat", "customer_id"]
    )


def _ledger(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    ensure_ledger(con)
    return con


def _details(targets: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    return targets.merge(customers[["customer_id", "name", "email", "account_manager"]], on="customer_id")


def test_faults_are_retried_and_every_message_lands_exactly_once(tmp_path: Path) -> None:
    targets, _ = _decide(n=600)
    _, _, customers, _ = population(600)
    emails = targets[(targets["decision"] == "treat") & (targets["channel"] == "email")]
    faults = ["429", "500", "timeout", "ok", "503", "ok", "429", "429", "ok"] * 3
    con = _ledger(tmp_path)
    assert queue_targets(con, targets) == (targets["decision"] == "treat").sum()
    with FakeSendGrid("SG.test-key", faults=faults, hold_seconds=0.6) as fake:
        sender = SendGridSender("SG.test-key", fake.host, "success@example.com", timeout=0.3)
        report = deliver_pending(con, sender, _details(targets, customers), sleep=lambda s: None)
        assert report.retries >= 12
        counts = fake.deliveries()
    assert len(counts) == len(emails)
    assert set(counts.values()) == {1}, "no message twice"
    ledger = con.execute("select status, count(*) from retention.send_ledger group by 1").fetchall()
    assert dict(ledger) == {"sent": (targets["decision"] == "treat").sum()}, "none lost"
    ids = con.execute("select message_id from retention.send_ledger where channel = 'email'").fetchall()
    assert all(m[0].startswith("msg-") for m in ids)
    # a re-run, or queueing the same decisions again, sends nothing more
    assert queue_targets(con, targets) == 0
    with FakeSendGrid("SG.test-key") as fake:
        again = deliver_pending(
            con, SendGridSender("SG.test-key", fake.host, "s@example.com"), _details(targets, customers)
        )
        assert fake.accepted == []
    assert again.sent == 0


def test_a_crash_in_the_middle_then_a_rerun_delivers_exactly_once(tmp_path: Path) -> None:
    targets, _ = _decide(n=500)
    _, _, customers, _ = population(500)
    con = _ledger(tmp_path)
    queue_targets(con, targets)

    def crash(i: int) -> None:
        if i == 7:
            raise KeyboardInterrupt("the machine went down")

    with FakeSendGrid("SG.k") as fake:
        sender = SendGridSender("SG.k", fake.host, "s@example.com")
        with pytest.raises(KeyboardInterrupt):
            deliver_pending(con, sender, _details(targets, customers), on_message=crash)
        first = len(fake.accepted)
        assert 0 < first < (targets["channel"] == "email").sum()
        deliver_pending(con, sender, _details(targets, customers))
        counts = fake.deliveries()
    emails = ((targets["decision"] == "treat") & (targets["channel"] == "email")).sum()
    assert len(counts) == emails
    assert set(counts.values()) == {1}


def test_outbox_recognises_a_message_written_just_before_a_crash(tmp_path: Path) -> None:
    targets, _ = _decide(n=300)
    _, _, customers, _ = population(300)
    con = _ledger(tmp_path)
    queue_targets(con, targets)
    outbox = tmp_path / "outbox"

    class CrashAfterWrite(OutboxSender):
        def send(self, message):  # type: ignore[no-untyped-def]
            super().send(message)
            raise KeyboardInterrupt("crashed after writing, before the ledger knew")

    with pytest.raises(KeyboardInterrupt):
        deliver_pending(con, CrashAfterWrite(outbox), _details(targets, customers))
    report = deliver_pending(con, OutboxSender(outbox), _details(targets, customers))
    assert report.recovered == 1
    emails = ((targets["decision"] == "treat") & (targets["channel"] == "email")).sum()
    assert len(list(outbox.glob("*.eml"))) == emails
    tasks = con.execute("select count(*) from retention.tasks").fetchall()[0][0]
    assert tasks == ((targets["decision"] == "treat") & (targets["channel"] == "account_manager_task")).sum()


def test_permanent_refusals_are_kept_with_their_reason(tmp_path: Path) -> None:
    targets, _ = _decide(n=200)
    _, _, customers, _ = population(200)
    con = _ledger(tmp_path)
    queue_targets(con, targets)
    with FakeSendGrid("right-key") as fake:
        report = deliver_pending(
            con, SendGridSender("wrong-key", fake.host, "s@example.com"), _details(targets, customers)
        )
    assert report.failed == ((targets["decision"] == "treat") & (targets["channel"] == "email")).sum()
    errors = con.execute(
        "select distinct last_error from retention.send_ledger where status = 'failed'"
    ).fetchall()
    assert "401" in errors[0][0]
    assert "wrong-key" not in errors[0][0], "the API key never reaches the ledger"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["playbooks"][0].update(intervention="free_pony"),
            "intervention 'free_pony' has no entry",
        ),
        (lambda d: d["channels"].pop("account_manager_task"), "channel 'account_manager_task' has no entry"),
        (lambda d: d.update(control_share=1.5), "control_share: Input should be less than 1"),
        (lambda d: d["channels"]["email"].update(daily_capacity=-1), "channels.email.daily_capacity"),
        (lambda d: d["playbooks"][1].update(factors=["bad_weather"]), "unknown factor(s) ['bad_weather']"),
        (lambda d: d.update(surprise=True), "surprise: Extra inputs are not permitted"),
        (lambda d: d["factors"].update(any=["mrr"]), "factors.any: 'any' is reserved"),
        (lambda d: d["factors"].update(low_usage=[]), "factors.low_usage: give at least one feature name"),
        (lambda d: d.pop("version"), "version: Field required"),
    ],
)
def test_bad_policy_files_get_clear_errors(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(POLICY_FILE.read_text())
    change(doc)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(RetentionPolicyError) as err:
        load_retention_policy(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_broken_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("version: [unclosed\n")
    with pytest.raises(RetentionPolicyError, match="not valid YAML"):
        load_retention_policy(path)


def test_account_manager_tasks_reach_the_table_and_the_webhook(tmp_path: Path) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        targets, _ = _decide(n=3000)
        _, _, customers, _ = population(3000)
        con = _ledger(tmp_path)
        queue_targets(con, targets)
        url = f"http://127.0.0.1:{server.server_address[1]}/tasks"
        report = deliver_pending(
            con, OutboxSender(tmp_path / "outbox"), _details(targets, customers), task_webhook=url
        )
    finally:
        server.shutdown()
    tasks = ((targets["decision"] == "treat") & (targets["channel"] == "account_manager_task")).sum()
    assert tasks > 0
    assert report.tasks == tasks
    assert len(received) == tasks
    assert all(r["title"].startswith("Call ") for r in received)
    assert con.execute("select count(*) from retention.tasks").fetchall()[0][0] == tasks


@pytest.mark.parametrize("company", ["saas", "social"])
def test_churn_factors_follow_any_companys_features(company: str) -> None:
    from churn_platform.profile import attribute_features, behaviour_features, load_profile

    policy = load_retention_policy(POLICY_FILE)
    profile = load_profile(company)
    usage = [f.name for f in behaviour_features(profile)]
    assert len(usage) > 10
    assert {f: policy.factor_of(f) for f in usage} == dict.fromkeys(usage, "low_usage")
    assert {f: policy.factor_of(f) for f in attribute_features(profile)} == dict.fromkeys(
        attribute_features(profile), "other"
    )
    expected = {
        "tickets_30d": "support_trouble",  # "*_30d" of low_usage comes later: the first match wins
        "escalations_30d": "support_trouble",
        "mrr_change_3m_pct": "billing_trouble",
        "latest_nps": "low_nps",
        "days_to_onboard": "onboarding",
        "plan": "other",
        None: "other",
    }
    assert {f: policy.factor_of(f) for f in expected} == expected


def test_the_first_matching_factor_wins(tmp_path: Path) -> None:
    doc = yaml.safe_load(POLICY_FILE.read_text())
    doc["factors"] = {"low_usage": ["*_30d"], **{k: v for k, v in doc["factors"].items() if k != "low_usage"}}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    policy = load_retention_policy(path)
    assert policy.factor_of("tickets_30d") == "low_usage"
    assert policy.factor_of("unresolved_tickets") == "support_trouble"
    assert policy.factor_of("days_since_last_post") == "other"
