"""A small hand-made warehouse for delivery tests: ``dim_customers`` with contact columns and treated decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from churn_platform.lib.retention.policy import RetentionPolicy, load_retention_policy

__all__ = ["POLICY_FILE", "load_retention_policy"]
from churn_platform.settings import PROJECT_ROOT

POLICY_FILE = PROJECT_ROOT / "churn_platform" / "policies" / "retention_policy.yaml"
SNAPSHOT = dt.date(2026, 1, 1)
PLAYBOOK = {"email": "re-engage-training", "sms": "rescue-billing", "team_task": "rescue-support",
            "in_app": "explore-features"}  # fmt: skip
INTERVENTION = {
    "email": "training",
    "sms": "discount",
    "team_task": "success_call",
    "in_app": "feature_trial",
}
FACTOR = {"email": "low_usage", "sms": "billing_trouble", "team_task": "support_trouble", "in_app": "other"}


def policy(quiet_hours: bool = False, cooldown_days: int = 30) -> RetentionPolicy:
    """The shipped policy; without quiet hours unless asked (tests must not depend on the time of day)."""
    loaded = load_retention_policy(POLICY_FILE)
    channels = {
        name: rules if quiet_hours else rules.model_copy(update={"quiet_hours": None})
        for name, rules in loaded.channels.items()
    }
    return loaded.model_copy(update={"channels": channels, "cooldown_days": cooldown_days})


def customer(i: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "customer_id": f"C{i:05d}", "company_name": f"Company {i}", "email": f"c{i}@example.com",
        "phone": f"+1555{i:07d}", "sms_consent": True, "push_consent": True, "language": "en",
        "time_zone": "UTC", "account_manager": "Ana", "marketing_consent": True, "is_unsubscribed": False,
    }  # fmt: skip
    row.update(overrides)
    return row


def decision(
    customer_id: str, channel: str, decision: str = "treat", snapshot: dt.date = SNAPSHOT
) -> dict[str, Any]:
    playbook = PLAYBOOK[channel]
    return {
        "customer_id": customer_id, "snapshot_date": pd.Timestamp(snapshot), "risk_tier": "high",
        "churn_probability": 0.7, "customer_value": 1000.0, "valuable": True, "factor": FACTOR[channel],
        "playbook": playbook, "intervention": INTERVENTION[channel], "channel": channel,
        "template": "d-" + playbook, "timeline_days": 3, "offer": "an offer", "offer_cost": 10.0,
        "expected_uplift": None, "expected_net_value": 1.0, "decision": decision,
        "campaign_id": f"{snapshot}:{playbook}", "wave": 1, "decided_on": pd.Timestamp(snapshot),
        "model_version": "3", "policy_version": "p1", "retention_policy_version": "r1", "ranking": "risk",
        "reason_1": "usage down 40% in the last 30 days", "reason_2": None, "reason_3": None,
    }  # fmt: skip


def build(path: Path, customers: Iterable[dict[str, Any]], decisions: Iterable[dict[str, Any]]) -> Path:
    """Write ``dim_customers`` and ``retention.decisions`` (replacing them) into the warehouse at ``path``."""
    people = pd.DataFrame(list(customers))
    chosen = pd.DataFrame(list(decisions))
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists retention")
        con.register("people", people)
        con.execute("create or replace table dim_customers as select * from people")
        con.register("chosen", chosen)
        con.execute("create or replace table retention.decisions as select * from chosen")
    return path


def campaign(path: Path, channels: dict[str, int], **overrides: Any) -> tuple[Path, set[str]]:
    """``channels``: how many treated customers per channel. Returns the warehouse and the ledger keys."""
    people, chosen, i = [], [], 0
    for channel, n in channels.items():
        for _ in range(n):
            people.append(customer(i, **overrides))
            chosen.append(decision(f"C{i:05d}", channel))
            i += 1
    build(path, people, chosen)
    keys = {f"{d['campaign_id']}|{d['customer_id']}|1" for d in chosen}
    return path, keys


def ledger(path: Path) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select * from retention.send_ledger order by customer_id").df()
