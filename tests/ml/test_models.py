"""ml/ on its own: metrics, calibration, the time split, scoring errors, reasons, promotion, value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.explain import shap_values, top_reasons
from ml.metrics import evaluate, expected_calibration_error, expected_maximum_profit, lift_and_recall_at
from ml.models import FeatureSpec, fit_model
from ml.policy import ChurnPolicy, RiskTiers, ValuePolicy
from ml.promotion import PromotionPolicy, decide
from ml.score import assign_tiers, score_frame, tier_cutoffs
from ml.train import TrainConfig, time_split, train_candidates
from ml.value import LifetimeModel, customer_value
from tests.ml.synthetic import churn_table


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return churn_table()


@pytest.fixture(scope="module")
def candidates(table: pd.DataFrame):  # type: ignore[no-untyped-def]
    return {c.kind: c for c in train_candidates(table)}


def test_metrics_reward_a_good_ranking_over_a_random_one() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(5000) < 0.2
    good = np.clip(0.2 + 0.5 * (y - 0.2) + rng.normal(0, 0.15, 5000), 0.001, 0.999)
    rand = rng.random(5000)
    g, r = evaluate(y, good), evaluate(y, rand)
    assert g["roc_auc"] > 0.85 > 0.55 > r["roc_auc"]
    assert g["emp"] > r["emp"] >= 0
    assert g["lift_top_decile"] > 2 > r["lift_top_decile"]
    calibrated = rng.random(20000)
    outcomes = rng.random(20000) < calibrated
    assert expected_calibration_error(outcomes, calibrated) < 0.02
    assert expected_calibration_error(outcomes, calibrated**3) > 0.1
    lift, recall = lift_and_recall_at(np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), np.arange(10)[::-1] / 10, 0.1)
    assert (lift, recall) == (10.0, 1.0)


def test_emp_of_a_perfect_model_matches_the_closed_form() -> None:
    y = np.array([1] * 200 + [0] * 800)
    emp, share = expected_maximum_profit(y, y.astype(float))
    # a perfect model targets exactly the churners: E[CLV (gamma (1 - d) - f)] pi1 with gamma ~ Beta(6, 14)
    expected = 0.2 * (200 * (0.3 * (1 - 0.05) - 0.005))
    assert emp == pytest.approx(expected, rel=0.01)
    assert share == pytest.approx(0.2, abs=0.01)


def test_time_split_validates_on_the_newest_snapshot(table: pd.DataFrame) -> None:
    split = time_split(table)
    assert str(split.validation) == "2025-05-01"
    assert str(split.calibration) == "2025-04-01"
    assert max(split.train) < split.calibration
    with pytest.raises(ValueError, match="at least 3 snapshots"):
        time_split(table[table["snapshot_date"] < "2025-03-01"])


def test_every_family_learns_the_signal(candidates) -> None:  # type: ignore[no-untyped-def]
    for kind, candidate in candidates.items():
        assert candidate.metrics["roc_auc"] > 0.7, kind
        assert "churned" not in candidate.model.spec.columns
        assert "snapshot_date" not in candidate.model.spec.columns


def test_shuffled_labels_leave_nothing_to_learn(table: pd.DataFrame) -> None:
    shuffled = table.copy()
    shuffled["churned"] = np.random.default_rng(3).permutation(shuffled["churned"].to_numpy())
    result = train_candidates(shuffled, TrainConfig(kinds=("logistic_regression", "catboost")))
    for candidate in result:
        pos = candidate.metrics["positives"]
        neg = candidate.metrics["rows"] - pos
        se = np.sqrt((pos + neg + 1) / (12 * pos * neg))  # AUC's standard error when nothing is learnable
        assert abs(candidate.metrics["roc_auc"] - 0.5) < 4 * se, (
            candidate.kind,
            candidate.metrics["roc_auc"],
            se,
        )


def test_calibration_improves_brier_on_held_out_rows(table: pd.DataFrame) -> None:
    spec = FeatureSpec.infer(table, exclude=("customer_id", "snapshot_date", "churned"))
    train, cal, test = (
        table[table["snapshot_date"] == d] for d in ("2025-01-01", "2025-02-01", "2025-03-01")
    )
    model = fit_model("random_forest", spec, train, train["churned"].to_numpy().astype(int))
    y_test = test["churned"].to_numpy().astype(int)
    before = evaluate(y_test, model.predict_proba(test))["brier"]
    model.calibrate(cal, cal["churned"].to_numpy().astype(int))
    after = evaluate(y_test, model.predict_proba(test))["brier"]
    assert after < before * 0.9


def test_scoring_rejects_missing_and_extra_columns(candidates, table: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    model = candidates["catboost"].model
    policy = ChurnPolicy(version="t")
    rows = table.drop(columns=["churned"]).head(50)
    scored = score_frame(model, rows, policy, "7").scores
    assert set(scored["risk_tier"]) <= {"critical", "high", "medium", "low"}
    assert scored["churn_probability"].between(0, 1).all()
    with pytest.raises(ValueError, match="missing column\\(s\\) login_30d"):
        score_frame(model, rows.drop(columns=["login_30d"]), policy, "7")
    with pytest.raises(ValueError, match="unexpected column\\(s\\) favourite_colour"):
        score_frame(model, rows.assign(favourite_colour="blue"), policy, "7")


def test_absolute_tiers_follow_the_policy_thresholds() -> None:
    tiers = RiskTiers(method="absolute")
    p = np.array([0.0, 0.29, 0.3, 0.59, 0.6, 0.79, 0.8, 1.0])
    got = assign_tiers(p, tier_cutoffs(p, tiers))
    assert list(got) == ["low", "low", "medium", "medium", "high", "high", "critical", "critical"]


def test_reasons_agree_in_sign_with_shap(candidates, table: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    model = candidates["catboost"].model
    rows = table.drop(columns=["churned"]).sample(300, random_state=1)
    reasons, values = top_reasons(model, rows)
    columns = model.spec.columns
    risky = rows.reset_index(drop=True)
    said_any = 0
    for i, said in enumerate(reasons):
        assert len(said) <= 3
        positive = {columns[j] for j in np.flatnonzero(values[i] > 0)}
        for text in said:
            said_any += 1
            if text.startswith("activity down") or text == "no activity in the last 30 days":
                assert "events_change_pct" in positive
                assert risky.loc[i, "events_change_pct"] < 0
            if "unresolved ticket" in text:
                assert positive & {"unresolved_tickets", "oldest_unresolved_ticket_days"}
    assert said_any > 100
    # SHAP values add up to the model's raw log-odds
    raw = model.estimator.predict(model.spec.check(rows), prediction_type="RawFormulaVal")
    full = shap_values(model, rows)
    assert np.corrcoef(full.sum(axis=1), raw)[0, 1] > 0.999


def test_promotion_gate_both_ways() -> None:
    policy = PromotionPolicy(margin=0.01, floor=0.7)
    assert decide(0.75, None, policy).promote
    assert not decide(0.65, None, policy).promote
    assert decide(0.80, 0.78, policy).promote
    assert not decide(0.785, 0.78, policy).promote
    assert not decide(0.70, 0.78, policy).promote
    assert "champion stays" in decide(0.70, 0.78, policy).reason


def test_customer_value_uses_survival_and_the_policy() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    plan = rng.choice(["basic", "pro"], n)
    scale = np.where(plan == "basic", 12.0, 40.0)
    lifetime = rng.weibull(1.2, n) * scale
    observed = np.minimum(lifetime, 24.0)
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "tenure_months": observed,
            "churned": lifetime < 24.0,
            "plan": plan,
            "segment": rng.choice(["smb", "enterprise"], n),
            "mrr": np.where(plan == "basic", 50.0, 200.0),
        }
    )
    model = LifetimeModel().fit(customers)
    policy = ValuePolicy(cost_of_trying=60, expected_save_rate=0.15, horizon_months=36)
    active = customers.assign(tenure_months=6.0)
    value = customer_value(active, model, policy)
    basic = value[customers["plan"] == "basic"]["expected_remaining_months"].mean()
    pro = value[customers["plan"] == "pro"]["expected_remaining_months"].mean()
    assert pro > basic > 3
    assert value["expected_remaining_months"].max() <= 36
    assert (value["valuable"] == (value["customer_value"] * 0.15 > 60)).all()
    assert value.loc[customers["plan"] == "pro", "valuable"].all()
