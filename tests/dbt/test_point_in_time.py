"""Features recomputed from raw in pandas, with only what happened before the snapshot, match the mart.

The recomputation is written independently of the SQL (per-customer filtering of raw rows), so it checks
both the point-in-time rule and the window arithmetic on real simulated data.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

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
def raw(built: BuiltWarehouse) -> dict[str, pd.DataFrame]:
    tables = ["usage_events", "support_tickets", "invoices", "nps_responses", "subscriptions", "accounts"]
    return {t: built.query(f"select * from raw.{t}") for t in tables}


def test_usage_features(mart: pd.DataFrame, raw: dict[str, pd.DataFrame]) -> None:
    s = pd.Timestamp(SNAPSHOT)
    events = raw["usage_events"].drop_duplicates("event_id")
    events = events[events["event_ts"] < s]  # only the past
    last30 = events[events["event_ts"] >= s - pd.Timedelta(days=30)]
    prev30 = events[
        (events["event_ts"] >= s - pd.Timedelta(days=60)) & (events["event_ts"] < s - pd.Timedelta(days=30))
    ]
    logins = events[events["event_type"] == "login"]
    expected = pd.DataFrame(
        {
            "events_30d": last30.groupby("customer_id").size(),
            "logins_30d": last30[last30["event_type"] == "login"].groupby("customer_id").size(),
            "events_prev_30d": prev30.groupby("customer_id").size(),
            "distinct_features_30d": last30.groupby("customer_id")["feature"].nunique(),
            "last_login": logins.groupby("customer_id")["event_ts"].max().dt.normalize(),
        }
    ).reindex(mart.index)
    for column in ["events_30d", "logins_30d", "events_prev_30d", "distinct_features_30d"]:
        assert (expected[column].fillna(0).astype(int) == mart[column]).all(), column
    days = (s - expected["last_login"]).dt.days
    assert days.fillna(-1).astype(int).equals(mart["days_since_last_login"].fillna(-1).astype(int))
    declined = mart[mart["usage_decline_pct"] >= 30]
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

    accounts = _latest(raw["accounts"], "customer_id", ["updated_at", "_batch_date", "_row_number"])
    onboarded = accounts.set_index("customer_id")["onboarding_completed_at"].reindex(mart.index)
    expected_onboarded = pd.to_datetime(onboarded) < s
    assert expected_onboarded.equals(mart["onboarding_completed"].astype(bool))
