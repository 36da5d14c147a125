"""Outcome arithmetic: Newcombe's interval matches the published example, and breakdowns add up."""

from __future__ import annotations

import pandas as pd
import pytest

from churn_platform.lib.retention.outcomes import campaign_outcomes, save_rate_interval, wilson


def test_wilson_and_newcombe_match_newcombe_1998() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80, method 10
    low, high = wilson(56, 70)
    assert low < 0.8 < high
    assert wilson(0, 10)[0] == 0.0
    diff, lower, upper = save_rate_interval(56, 70, 48, 80)
    assert diff == pytest.approx(0.2)
    assert (round(lower, 4), round(upper, 4)) == (0.0524, 0.3339)


def test_outcomes_compare_treated_with_control_and_skip_immature_labels() -> None:
    rows = []
    for i in range(400):
        treated = i % 10 != 0
        rows.append(
            {
                "customer_id": f"C{i}",
                "snapshot_date": pd.Timestamp("2026-01-01"),
                "decision": "treat" if treated else "control",
                "playbook": "a" if i % 2 else "b",
                "risk_tier": "medium",
                "customer_value": float(i),
                "offer_cost": 10.0 if treated else 0.0,
            }
        )
    decisions = pd.DataFrame(rows)
    labels = decisions[["customer_id", "snapshot_date"]].assign(
        churned=[(i % 5 == 0) if i % 10 else (i % 20 == 0) for i in range(400)]
    )
    immature = decisions.assign(snapshot_date=pd.Timestamp("2026-02-01"))
    out = campaign_outcomes(
        pd.concat([decisions, immature]),
        pd.concat([labels, labels.assign(snapshot_date=pd.Timestamp("2026-02-01"), churned=None)]),
    )
    assert set(out["snapshot_date"]) == {pd.Timestamp("2026-01-01")}, "immature campaigns are left out"
    overall = out[out["dimension"] == "overall"].iloc[0]
    assert overall["treated"] == 360
    assert overall["control"] == 40
    # treated churn where i = 5 (mod 10): 40 of 360; control churn where i = 0 (mod 20): 20 of 40
    assert overall["treated_churn_rate"] == pytest.approx(40 / 360)
    assert overall["control_churn_rate"] == pytest.approx(20 / 40)
    assert overall["save_rate"] == pytest.approx(0.5 - 40 / 360)
    assert overall["save_rate_low"] < overall["save_rate"] < overall["save_rate_high"]
    assert overall["cost"] == pytest.approx(3600)
    by_playbook = out[out["dimension"] == "playbook"]
    assert by_playbook["treated"].sum() == 360
    assert set(out["dimension"]) == {"overall", "playbook", "risk_tier", "value_band"}


def test_a_campaign_of_one_customer_is_measured_without_error() -> None:
    decisions = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "snapshot_date": pd.Timestamp("2026-01-01"),
            "decision": ["treat", "control"],
            "playbook": "a",
            "risk_tier": "medium",
            "customer_value": [100.0, 100.0],
            "offer_cost": [10.0, 0.0],
        }
    )
    labels = decisions[["customer_id", "snapshot_date"]].assign(churned=[False, True])
    out = campaign_outcomes(decisions, labels)
    overall = out[out["dimension"] == "overall"].iloc[0]
    assert (overall["treated"], overall["control"], overall["save_rate"]) == (1, 1, 1.0)


def test_value_bands_survive_a_single_measured_customer() -> None:
    decisions = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "snapshot_date": pd.Timestamp("2026-01-01"),
            "decision": ["treat"],
            "playbook": "a",
            "risk_tier": "medium",
            "customer_value": [100.0],
            "offer_cost": [10.0],
        }
    )
    out = campaign_outcomes(decisions, decisions[["customer_id", "snapshot_date"]].assign(churned=[False]))
    assert set(out["dimension"]) == {"overall", "playbook", "risk_tier", "value_band"}
