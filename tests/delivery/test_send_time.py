"""Each message is checked, built and addressed just before it goes; a message that may not go, or cannot,
is kept with its reason and never holds back the others. Every row of the issue's table, through the real
delivery loop on a real DuckDB warehouse, with the outbox, the task table and local fakes."""

from __future__ import annotations

import datetime as dt
import email
import json
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_platform.lib.delivery.channels import (
    OutboxChannel,
    SlackTasks,
    TeamTaskChannel,
    WebhookChannel,
)
from churn_platform.lib.delivery.core import Channel
from churn_platform.lib.retention.delivery import queue_targets
from churn_platform.lib.retention.pipeline import deliver
from tests.delivery import warehouse as wh
from tests.delivery.fakes import FakeSlack, FakeWebhook, FaultPlan


def outbox_channels(
    outbox: Path, forward: SlackTasks | WebhookChannel | None = None, in_app: Channel | None = None
):  # type: ignore[no-untyped-def]
    def build(con: duckdb.DuckDBPyConnection) -> Mapping[str, Channel]:
        return {
            "email": OutboxChannel("email", outbox), "sms": OutboxChannel("sms", outbox),
            "in_app": in_app or OutboxChannel("in_app", outbox), "team_task": TeamTaskChannel(con, forward),
        }  # fmt: skip

    return build


def run(warehouse: Path, outbox: Path, **kwargs):  # type: ignore[no-untyped-def]
    channels = kwargs.pop("channels", None) or outbox_channels(outbox)
    return deliver(warehouse, channels, kwargs.pop("policy", wh.policy()), sleep=lambda s: None,
                   backoff_seconds=0.0, **kwargs)  # fmt: skip


def emails(outbox: Path) -> dict[str, email.message.Message]:
    return {p.name: email.message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))}


def test_consent_withdrawn_while_pending_skips_those_three_and_sends_the_rest(tmp_path: Path) -> None:
    warehouse, _keys = wh.campaign(tmp_path / "wh.duckdb", {"email": 12, "sms": 8})
    with duckdb.connect(str(warehouse)) as con:  # queued by an earlier run, not sent yet
        queue_targets(con, con.execute("select * from retention.decisions").df())
        # the accounts were re-delivered and rebuilt: three customers withdrew consent for their channel
        con.execute(
            "update dim_customers set marketing_consent = false where customer_id in ('C00000', 'C00001')"
        )
        con.execute("update dim_customers set sms_consent = false where customer_id = 'C00012'")
    report = run(warehouse, tmp_path / "outbox")
    ledger = wh.ledger(warehouse).set_index("customer_id")
    skipped = ledger[ledger["status"] == "skipped"]
    assert sorted(skipped.index) == ["C00000", "C00001", "C00012"]
    assert skipped["reason"].str.startswith("consent_withdrawn").all()
    assert report.skipped == {"consent_withdrawn": 3}
    assert (ledger.drop(skipped.index)["status"] == "sent").all(), "the others go"
    assert len(emails(tmp_path / "outbox")) == 10
    assert len(list((tmp_path / "outbox" / "sms").glob("*.json"))) == 7


def test_a_company_name_with_a_comma_is_one_quoted_recipient(tmp_path: Path) -> None:
    warehouse = wh.build(tmp_path / "wh.duckdb", [wh.customer(0, company_name="Swift Studio, Inc.")],
                         [wh.decision("C00000", "email")])  # fmt: skip
    run(warehouse, tmp_path / "outbox")
    [mail] = emails(tmp_path / "outbox").values()
    assert mail["To"] == '"Swift Studio, Inc." <c0@example.com>'
    assert email.utils.getaddresses([mail["To"]]) == [("Swift Studio, Inc.", "c0@example.com")]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("email", "v@x.example, a@evil.example", "invalid_address"),
        ("email", "v@x.example\nBcc: a@evil.example", "invalid_address"),
        ("company_name", "Evil Corp\r\nBcc: a@evil.example", "invalid_name"),
        ("company_name", "Line\nBreak Ltd", "invalid_name"),
        ("email", None, "no_address"),
    ],
)
def test_a_bad_address_or_name_refuses_that_message_and_the_rest_are_delivered(
    tmp_path: Path, field: str, value: str | None, reason: str
) -> None:
    people = [wh.customer(i) for i in range(5)]
    people[2][field] = value
    warehouse = wh.build(
        tmp_path / "wh.duckdb", people, [wh.decision(p["customer_id"], "email") for p in people]
    )
    report = run(warehouse, tmp_path / "outbox")
    ledger = wh.ledger(warehouse).set_index("customer_id")
    assert ledger.loc["C00002", "status"] == "failed"
    assert ledger.loc["C00002", "reason"].startswith(reason)
    assert (ledger.drop("C00002")["status"] == "sent").all()
    assert report.failed == 1
    for mail in emails(tmp_path / "outbox").values():
        assert "evil" not in str(mail).lower()
    assert len(emails(tmp_path / "outbox")) == 4
    again = run(warehouse, tmp_path / "outbox")
    assert again.sent == 0, "nothing is resent"
    assert again.failed == 0, "a refused message is not retried"


def test_sms_needs_an_e164_number(tmp_path: Path) -> None:
    people = [wh.customer(0, phone="0151 2345 678"), wh.customer(1, phone="+49 151 2345-6789")]
    warehouse = wh.build(
        tmp_path / "wh.duckdb", people, [wh.decision(p["customer_id"], "sms") for p in people]
    )
    run(warehouse, tmp_path / "outbox")
    ledger = wh.ledger(warehouse).set_index("customer_id")
    assert ledger.loc["C00000", "status"] == "failed"
    assert "E.164" in ledger.loc["C00000", "reason"]
    [sms] = (tmp_path / "outbox" / "sms").glob("*.json")
    assert json.loads(sms.read_text())["to"] == "+4915123456789"


def test_html_is_escaped_and_every_message_is_in_the_customers_language(tmp_path: Path) -> None:
    people = [wh.customer(0, company_name="<script>alert(1)</script>", language="en"),
              wh.customer(1, language="es-MX"), wh.customer(2, language="fr"), wh.customer(3, language="de"),
              wh.customer(4, language="pt")]  # fmt: skip
    warehouse = wh.build(
        tmp_path / "wh.duckdb", people, [wh.decision(p["customer_id"], "email") for p in people]
    )
    run(warehouse, tmp_path / "outbox")
    mails = {
        f"c{int(m['X-Ledger-Key'].split('|')[1][1:])}@example.com": m
        for m in emails(tmp_path / "outbox").values()
    }

    def parts(mail: email.message.Message) -> tuple[str, str]:
        text, html = (p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart())
        return text, html

    _, html = parts(mails["c0@example.com"])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "Nos gustaría ofrecerle una sesión de formación" in parts(mails["c1@example.com"])[0]
    assert mails["c1@example.com"]["Content-Language"] == "es"
    assert "Nous aimerions vous offrir une session de formation" in parts(mails["c2@example.com"])[0]
    assert "Wir möchten Ihnen eine kostenlose Live-Schulung" in parts(mails["c3@example.com"])[0]
    assert "We would like to offer you a free live training" in parts(mails["c4@example.com"])[0], (
        "pt: English"
    )
    assert "Uns ist aufgefallen" in parts(mails["c3@example.com"])[0], "the reason is in German too"


def test_the_task_webhook_answering_500_is_retried_like_any_other_channel(tmp_path: Path) -> None:
    people = [wh.customer(i) for i in range(4)]
    warehouse = wh.build(
        tmp_path / "wh.duckdb", people, [wh.decision(p["customer_id"], "team_task") for p in people]
    )
    with FakeWebhook(faults=FaultPlan(script=["500", "500", "500", "500_accepted"])) as hook:
        forward = WebhookChannel("team_task", f"{hook.url}/tasks", timeout=0.5)
        first = run(
            warehouse,
            tmp_path / "outbox",
            channels=outbox_channels(tmp_path / "outbox", forward),
            max_attempts=2,
        )
        assert first.still_pending >= 1, "a 500 does not mark the task sent"
        for _ in range(3):
            run(
                warehouse,
                tmp_path / "outbox",
                channels=outbox_channels(tmp_path / "outbox", forward),
                max_attempts=2,
            )
        assert set(hook.effects) == {
            f"{wh.decision(p['customer_id'], 'team_task')['campaign_id']}|{p['customer_id']}|1"
            for p in people
        }
    assert (wh.ledger(warehouse)["status"] == "sent").all()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tasks = con.execute("select customer_id, title from retention.tasks order by 1").fetchall()
    assert len(tasks) == 4, "one task row per customer, however often it was posted"
    assert tasks[0][1].startswith("Call Company 0: rescue-support")


def test_slack_tasks_are_reconciled_from_the_channel_history(tmp_path: Path) -> None:
    people = [wh.customer(i) for i in range(10)]
    warehouse = wh.build(
        tmp_path / "wh.duckdb", people, [wh.decision(p["customer_id"], "team_task") for p in people]
    )
    with FakeSlack("xoxb-t", FaultPlan(rate=0.3, seed=3), hold_seconds=0.6) as slack:
        forward = SlackTasks("xoxb-t", "C0TASKS", f"{slack.url}/api/", timeout=0.3, settle_seconds=0.3)
        for _ in range(8):
            run(
                warehouse,
                tmp_path / "outbox",
                channels=outbox_channels(tmp_path / "outbox", forward),
                max_attempts=3,
            )
            if (wh.ledger(warehouse)["status"] == "sent").all():
                break
            import time

            time.sleep(0.35)
        assert slack.duplicates() == 0
        assert len(slack.deliveries()) == 10
        assert sum(slack.faults.drawn[f] for f in ("slow", "500_accepted")) >= 1
    assert (wh.ledger(warehouse)["status"] == "sent").all()


def test_in_app_goes_to_the_signed_webhook_and_repeats_are_one_notification(tmp_path: Path) -> None:
    people = [wh.customer(i) for i in range(12)]
    warehouse = wh.build(
        tmp_path / "wh.duckdb", people, [wh.decision(p["customer_id"], "in_app") for p in people]
    )
    with FakeWebhook(secret="s3cret", faults=FaultPlan(rate=0.3, seed=5), hold_seconds=0.6) as product:
        in_app = WebhookChannel("in_app", f"{product.url}/notify", secret="s3cret", timeout=0.3)
        for _ in range(6):
            run(warehouse, tmp_path / "outbox", channels=outbox_channels(tmp_path / "outbox", in_app=in_app))
        assert len(product.effects) == 12, (
            "every customer is notified, once (deduplicated by Idempotency-Key)"
        )
        assert product.requests >= 12
        wrong = WebhookChannel("in_app", f"{product.url}/notify", secret="wrong", timeout=0.3)
        from churn_platform.lib.delivery.core import Outgoing, PermanentError

        with pytest.raises(PermanentError, match="401"):
            wrong.send(Outgoing(key="x|1|1", to="C1", subject="t", text="b", channel="in_app"))
    first = next(iter(product.effects.values()))
    assert first["title"]
    assert first["body"]
    assert first["channel"] == "in_app"
    assert (wh.ledger(warehouse)["status"] == "sent").all()


def test_quiet_hours_hold_sms_until_morning_in_the_customers_time_zone(tmp_path: Path) -> None:
    people = [wh.customer(0, time_zone="Europe/Madrid"), wh.customer(1, time_zone="America/New_York"),
              wh.customer(2, time_zone="Not/AZone")]  # fmt: skip
    chosen = [wh.decision(p["customer_id"], "sms") for p in people] + [wh.decision("C00001", "email")]
    chosen[-1]["customer_id"] = "C00001"
    warehouse = wh.build(tmp_path / "wh.duckdb", people, chosen[:3])
    late = dt.datetime(2026, 1, 15, 22, 30)  # UTC: 23:30 in Madrid, 17:30 in New York
    report = run(warehouse, tmp_path / "outbox", policy=wh.policy(quiet_hours=True), clock=lambda: late)
    ledger = wh.ledger(warehouse).set_index("customer_id")
    assert ledger.loc["C00000", "status"] == "pending"
    assert ledger.loc["C00000", "not_before"] == pd.Timestamp("2026-01-16 08:00")  # 09:00 Madrid
    assert ledger.loc["C00000", "reason"].startswith("quiet_hours")
    assert ledger.loc["C00001", "status"] == "sent", "17:30 in New York is not quiet"
    assert ledger.loc["C00002", "status"] == "pending", "an unknown zone falls back to the default (UTC)"
    assert report.deferred == 2
    morning = dt.datetime(2026, 1, 16, 9, 5)
    run(warehouse, tmp_path / "outbox", policy=wh.policy(quiet_hours=True), clock=lambda: morning)
    assert (wh.ledger(warehouse)["status"] == "sent").all()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    flags=st.lists(
        st.tuples(
            st.sampled_from(["email", "sms", "in_app", "team_task"]),
            st.booleans(),
            st.booleans(),
            st.booleans(),
            st.booleans(),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_nobody_without_consent_unsubscribed_in_control_or_in_cooldown_is_sent_anything(
    tmp_path_factory: pytest.TempPathFactory, flags: list[tuple[str, bool, bool, bool, bool, bool, bool]]
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    people, chosen, must_not = [], [], set()
    for i, (channel, marketing, sms, push, unsubscribed, control, recent) in enumerate(flags):
        cid = f"C{i:05d}"
        people.append(wh.customer(i, marketing_consent=marketing, sms_consent=sms, push_consent=push,
                                  is_unsubscribed=unsubscribed))  # fmt: skip
        chosen.append(wh.decision(cid, channel, "control" if control else "treat"))
        consent = {"email": marketing, "team_task": marketing, "sms": sms, "in_app": push}[channel]
        if not consent or unsubscribed or control or recent:
            must_not.add(cid)
    warehouse = wh.build(folder / "wh.duckdb", people, chosen)
    with duckdb.connect(str(warehouse)) as con:
        # every decision is queued as if it had been treated when decided; then the state changed
        decisions = con.execute("select * from retention.decisions").df().assign(decision="treat")
        queue_targets(con, decisions)
        recent = [f"C{i:05d}" for i, f in enumerate(flags) if f[6]]
        for cid in recent:  # another campaign reached them yesterday
            con.execute(
                "insert into retention.send_ledger (customer_id, campaign_id, wave, channel, status, sent_at, "
                "snapshot_date) values (?, 'older:campaign', 1, 'email', 'sent', ?, ?)",
                [cid, dt.datetime(2025, 12, 31), dt.date(2025, 12, 1)],
            )
    run(warehouse, folder / "outbox")
    ledger = wh.ledger(warehouse)
    ledger = ledger[ledger["campaign_id"] != "older:campaign"]
    reached = set(ledger.loc[ledger["status"] == "sent", "customer_id"])
    assert not reached & must_not
    assert reached == {p["customer_id"] for p in people} - must_not
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tasks = {r[0] for r in con.execute("select customer_id from retention.tasks").fetchall()}
    files = {json.loads(p.read_text())["data"]["customer_id"] for p in (folder / "outbox").glob("*/*.json")}
    files |= {m["X-Ledger-Key"].split("|")[1] for m in emails(folder / "outbox").values()}
    assert not (files | tasks) & must_not, "nothing reached them on any channel"


def test_the_demo_policy_runs_one_campaign_on_email_sms_and_team_tasks(tmp_path: Path) -> None:
    """The shipped policy has playbooks on email, SMS and team tasks; one run delivers each through its channel
    and the ledger records the channel of every message."""
    shipped = wh.load_retention_policy(wh.POLICY_FILE)
    assert {pb.channel for pb in shipped.playbooks} >= {"email", "sms", "team_task"}
    warehouse, keys = wh.campaign(tmp_path / "wh.duckdb", {"email": 3, "sms": 3, "team_task": 3})
    report = run(warehouse, tmp_path / "outbox")
    ledger = wh.ledger(warehouse)
    assert dict(ledger.groupby("channel")["status"].agg(lambda s: (s == "sent").sum())) == {
        "email": 3,
        "sms": 3,
        "team_task": 3,
    }
    assert set(ledger["message_key"]) == keys
    assert report.sent_by_channel == {"email": 3, "sms": 3, "team_task": 3}
    assert ledger.loc[ledger["channel"] == "sms", "provider"].eq("outbox").all()
    assert ledger.loc[ledger["channel"] == "team_task", "provider"].eq("table").all()
