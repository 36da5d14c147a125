"""Features recomputed from raw in pandas, with only what happened before the snapshot, match the mart.

The recomputation is written independently of the SQL (per-customer filtering of raw rows), so it checks
both the point-in-time rule and the window arithmetic on real simulated data.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from churn_platform.profile import behaviour_features, load_profile
from tests.dbt.conftest import BuiltWarehouse

SNAPSHOT = dt.date(2025, 6, 1)


def _latest(frame: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    return frame.sort_values(order).drop_duplicates(key, keep="last")


@pytest.fixture(scope="module")
def mart(built: BuiltWarehouse) -> pd.DataFrame:
    features = built.query("select * from fct_customer_features where snapshot_date = ?", [SNAPSHOT])
    assert len(features) > 300
    return features.set_index("customer_id")


@pytest.fixture(scope="module")
def behaviour(built: BuiltWarehouse) -> pd.DataFrame:
    features = built.query("select * from fct_behaviour_features where snapshot_date = ?", [SNAPSHOT])
    return features.set_index("customer_id")


@pytest.fixture(scope="module")
def raw(built: BuiltWarehouse) -> dict[str, pd.DataFrame]:
    tables = ["usage_events", "support_tickets", "invoices", "nps_responses", "subscriptions", "accounts"]
    return {t: built.query(f"select * from raw.{t}") for t in tables}


def test_behaviour_features_per_event_type(behaviour: pd.DataFrame, raw: dict[str, pd.DataFrame]) -> None:
    s = pd.Timestamp(SNAPSHOT)
    assert list(behaviour.columns) == [
        "snapshot_date",
        *(f.name for f in behaviour_features(load_profile("saas"))),
    ]
    events = raw["usage_events"].drop_duplicates("event_id")
    events = events[events["event_ts"] < s]  # only the past
    last30 = events[events["event_ts"] >= s - pd.Timedelta(days=30)]
    prev30 = events[
        (events["event_ts"] >= s - pd.Timedelta(days=60)) & (events["event_ts"] < s - pd.Timedelta(days=30))
    ]
    sessions = last30[last30["event_type"] == "session"]
    expected = pd.DataFrame(
        {
            "events_30d": last30.groupby("customer_id").size(),
            "events_prev_30d": prev30.groupby("customer_id").size(),
            "active_days_30d": last30.groupby("customer_id")["event_ts"].apply(lambda t: t.dt.date.nunique()),
            "session_seconds_30d": sessions.groupby("customer_id")["duration_seconds"].sum(),
            **{
                f"{t}_30d": last30[last30["event_type"] == t].groupby("customer_id").size()
                for t in ("login", "session", "feature_use")
            },
            **{
                f"{t}_prev_30d": prev30[prev30["event_type"] == t].groupby("customer_id").size()
                for t in ("login", "session", "feature_use")
            },
        }
    ).reindex(behaviour.index)
    for column in expected.columns:
        assert (expected[column].fillna(0) == behaviour[column]).all(), column
    for t in ("login", "feature_use"):
        last = events[events["event_type"] == t].groupby("customer_id")["event_ts"].max().dt.normalize()
        days = (s - last.reindex(behaviour.index)).dt.days
        days = days.where(days <= 60)  # the recency window: nothing in the last 60 days reads null
        assert days.fillna(-1).astype(int).equals(behaviour[f"days_since_last_{t}"].fillna(-1).astype(int)), t
    prev = expected["login_prev_30d"].fillna(0)
    change = (100 * (expected["login_30d"].fillna(0) - prev) / prev).where(prev > 0)
    assert ((change - behaviour["login_change_pct"]).abs().fillna(0) < 1e-9).all()
    assert (change.isna() == behaviour["login_change_pct"].isna()).all()
    declined = behaviour[behaviour["events_change_pct"] <= -30]
    assert len(declined) > 0, "a 30%+ usage drop must be visible"
    assert (declined["events_30d"] <= 0.7 * declined["events_prev_30d"]).all()


def test_ticket_features(mart: pd.DataFrame, raw: dict[str, pd.DataFrame]) -> None:
    s = pd.Timestamp(SNAPSHOT)
    tickets = _latest(raw["support_tickets"], "ticket_id", ["updated_at", "_batch_date", "_row_number"])
    opened = tickets[tickets["opened_at"] < s]
    unresolved = opened[opened["resolved_at"].isna() | (opened["resolved_at"] >= s)]
    recent = opened[opened["opened_at"] >= s - pd.Timedelta(days=30)]
    expected_unresolved = unresolved.groupby("customer_id").size().reindex(mart.index).fillna(0).astype(int)
    expected_recent = recent.groupby("customer_id").size().reindex(mart.index).fillna(0).astype(int)
    assert (expected_unresolved == mart["unresolved_tickets"]).all()
    assert (expected_recent == mart["tickets_30d"]).all()
    # a ticket resolved after the snapshot is still unresolved at it
    resolved_later = unresolved[unresolved["resolved_at"].notna()]
    resolved_later_ids = sorted(set(resolved_later["customer_id"]) & set(mart.index))
    assert resolved_later_ids, "the company should have tickets open across the snapshot"
    assert mart["unresolved_tickets"].reindex(resolved_later_ids).ge(1).all()


def test_billing_and_nps_features(mart: pd.DataFrame, raw: dict[str, pd.DataFrame]) -> None:
    s = pd.Timestamp(SNAPSHOT)
    invoices = _latest(raw["invoices"], "invoice_id", ["updated_at", "_batch_date", "_row_number"])
    due = pd.to_datetime(invoices["due_date"])
    window = invoices[(due >= s - pd.Timedelta(days=90)) & (due < s)]
    paid = pd.to_datetime(window["paid_date"])
    late = window[paid.isna() | (paid > pd.to_datetime(window["due_date"]))]
    expected_late = late.groupby("customer_id").size().reindex(mart.index).fillna(0).astype(int)
    assert (expected_late == mart["late_payments_90d"]).all()

    nps = raw["nps_responses"].drop_duplicates("response_id")
    nps = nps[pd.to_datetime(nps["responded_at"]) < s].sort_values(["responded_at", "response_id"])
    latest = nps.groupby("customer_id")["score"].last().reindex(mart.index)
    assert latest.fillna(-1).astype(int).equals(mart["latest_nps"].fillna(-1).astype(int))

    periods = _latest(raw["subscriptions"], "subscription_id", ["updated_at", "_batch_date", "_row_number"])
    started = periods[pd.to_datetime(periods["start_date"]) < s].sort_values(
        ["start_date", "subscription_id"]
    )
    mrr = started.groupby("customer_id")["mrr"].last().reindex(mart.index)
    assert (mrr.fillna(0) - mart["mrr"]).abs().max() < 1e-9

    # the account version in force: the latest exported before the snapshot (else the first)
    versions = raw["accounts"].sort_values(["customer_id", "updated_at", "_batch_date", "_row_number"])
    before = versions[versions["updated_at"] < s].drop_duplicates("customer_id", keep="last")
    first = versions.drop_duplicates("customer_id", keep="first")
    in_force = pd.concat([before, first[~first["customer_id"].isin(before["customer_id"])]])
    onboarded = in_force.set_index("customer_id")["onboarding_completed_at"].reindex(mart.index)
    expected_onboarded = pd.to_datetime(onboarded) < s
    assert expected_onboarded.equals(mart["onboarding_completed"].astype(bool))
