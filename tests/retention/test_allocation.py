"""Next best action and adaptive allocation: logged, reproducible assignment probabilities; nobody with a
negative expected value contacted; allocation that moves towards the arm that works; the budget holds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_platform.lib.retention.policy import RetentionPolicy, load_retention_policy
from churn_platform.lib.retention.targets import select_targets, stable_uniform
from tests.retention.test_targets_and_delivery import DAY, POLICY_FILE, population

MEASURED = ["treat", "control", "holdout"]


def _policy(**overrides: object) -> RetentionPolicy:
    return load_retention_policy(POLICY_FILE).model_copy(update=overrides)


def _decide(n: int, policy: RetentionPolicy, seed: int = 0, **kwargs: object) -> pd.DataFrame:
    scores, values, customers, contacts = population(n, seed)
    return select_targets(scores, values, customers, contacts, policy, DAY, **kwargs)  # type: ignore[arg-type]


def test_assignment_probabilities_are_logged_and_reproducible() -> None:
    policy = _policy()
    targets = _decide(6000, policy)
    pd.testing.assert_frame_equal(targets, _decide(6000, policy))
    measured = targets[targets["decision"].isin(MEASURED)]
    assert len(measured) > 1000
    assert (measured["allocation"] == "thompson").all()
    p_control = (
        policy.experiment.global_holdout + (1 - policy.experiment.global_holdout) * policy.control_share
    )
    assert np.allclose(measured["control_probability"], p_control)
    arms = [json.loads(a) for a in measured["arm_probabilities"]]
    assert np.allclose([sum(a.values()) + p_control for a in arms], 1.0, atol=1e-5)
    for row, offered in zip(measured.to_dict("records"), arms, strict=True):
        if row["decision"] == "treat":
            assert row["assignment_probability"] == offered[row["arm"]]
            assert offered[row["arm"]] >= policy.allocation.floor * (1 - p_control) - 1e-6
        else:
            assert row["arm"] == "control"
            assert row["assignment_probability"] == p_control
    # each arm is reproduced from the logged probabilities and the customer's seeded draw
    treated = measured[measured["decision"] == "treat"]
    u = stable_uniform(treated["customer_id"], "arm", policy.allocation.seed, DAY)
    for draw, row in zip(u, treated.to_dict("records"), strict=True):
        offered = json.loads(row["arm_probabilities"])
        names = [a for a in policy.arm_names if a in offered]
        cumulative = np.cumsum([offered[a] / (1 - p_control) for a in names])
        assert names[min(int((draw >= cumulative).sum()), len(names) - 1)] == row["arm"]
    # and the arms were drawn with those probabilities: counts match their sums
    given_treat = pd.DataFrame([json.loads(a) for a in treated["arm_probabilities"]]).fillna(0) / (
        1 - p_control
    )
    expected, observed = given_treat.sum(), treated["arm"].value_counts()
    for arm, mean in expected.items():
        sd = np.sqrt((given_treat[arm] * (1 - given_treat[arm])).sum())
        assert abs(observed.get(arm, 0) - mean) < 4 * sd + 1, arm


def test_nobody_with_a_negative_expected_value_is_contacted() -> None:
    policy = _policy()
    scores, values, customers, contacts = population(4000, seed=3)
    rng = np.random.default_rng(3)
    kind = rng.choice(["sleeping_dog", "weak", "persuadable"], len(scores))
    uplift = pd.DataFrame({"customer_id": scores["customer_id"]})
    for arm in policy.arm_names:
        uplift[f"uplift_{arm}"] = np.select(
            [kind == "sleeping_dog", kind == "weak"],
            [-0.05, 0.0005],
            default=rng.uniform(0.02, 0.2, len(kind)),
        )
    targets = select_targets(scores, values, customers, contacts, policy, DAY, uplift=uplift)
    frame = targets.merge(uplift, on="customer_id").assign(kind=lambda d: d["customer_id"].map(
        dict(zip(scores["customer_id"], kind, strict=True))
    ))  # fmt: skip
    measured = frame[frame["decision"].isin(MEASURED)]
    assert (measured["allocation"] == "uplift_model").all()
    assert set(measured["kind"]) == {"persuadable"}, "sleeping dogs and the barely moved are left alone"
    assert (frame.loc[frame["kind"] == "sleeping_dog", "decision"] != "treat").all()
    assert (frame.loc[frame["kind"] == "sleeping_dog", "decision"].isin(
        ["negative_value", "not_valuable", "unsubscribed", "no_consent", "cooldown", "no_playbook"]
    )).all()  # fmt: skip
    costs = {a: policy.interventions[a].cost for a in policy.arm_names}
    for row in measured.to_dict("records"):
        for arm in json.loads(
            row["arm_probabilities"]
        ):  # every arm a customer could draw pays in expectation
            assert row[f"uplift_{arm}"] * row["customer_value"] - costs[arm] > 0
    assert (measured.loc[measured["decision"] == "treat", "expected_net_value"] > 0).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(10, 300), seed=st.integers(0, 10_000), spread=st.floats(0.001, 0.3))
def test_no_negative_expected_value_is_ever_contacted(n: int, seed: int, spread: float) -> None:
    policy = _policy()
    scores, values, customers, contacts = population(n, seed)
    rng = np.random.default_rng(seed)
    uplift = pd.DataFrame({"customer_id": scores["customer_id"]})
    for arm in policy.arm_names:
        uplift[f"uplift_{arm}"] = rng.normal(0, spread, n)
    targets = select_targets(scores, values, customers, contacts, policy, DAY, uplift=uplift)
    frame = targets.merge(uplift, on="customer_id")
    for row in frame[frame["decision"].isin(MEASURED)].to_dict("records"):
        for arm in json.loads(row["arm_probabilities"]):
            assert row[f"uplift_{arm}"] * row["customer_value"] > policy.interventions[arm].cost


def _history(policy: RetentionPolicy, n: int = 30_000, seed: int = 5) -> pd.DataFrame:
    """Measured decisions in which training cuts churn by half for everyone and nothing else works."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 0.5, n)
    arm = rng.choice(["control", *policy.arm_names], n)
    churned = rng.random(n) < np.where(arm == "training", p * 0.5, p)
    factor = rng.choice(
        ["low_usage", "support_trouble", "billing_trouble", "low_nps", "onboarding", "other"], n
    )
    return pd.DataFrame(
        {"factor": factor, "segment": "all", "arm": arm, "churned": churned, "churn_probability": p}
    )


def test_allocation_moves_towards_the_arm_that_works() -> None:
    policy = _policy()
    before = _decide(6000, policy)
    after = _decide(6000, policy, history=_history(policy))
    treated_before = before[before["decision"] == "treat"]
    treated_after = after[after["decision"] == "treat"]
    share = {
        name: frame["arm"].value_counts(normalize=True)
        for name, frame in (("before", treated_before), ("after", treated_after))
    }
    assert share["after"]["training"] > share["before"]["training"] + 0.2
    assert share["after"]["training"] > 0.6
    offered = [json.loads(a) for a in after.loc[after["decision"].isin(MEASURED), "arm_probabilities"]]
    floor = policy.allocation.floor * (1 - after["control_probability"].dropna().iloc[0])
    assert all(min(a.values()) >= floor - 1e-6 for a in offered), "every eligible arm keeps its floor"
    # arms found useless are no longer worth their cost for anyone: only training remains positive
    assert (treated_after["expected_uplift"][treated_after["arm"] == "training"] > 0).all()


def test_the_budget_caps_the_spend_and_buys_the_most_value_for_its_price() -> None:
    policy = _policy(budget=2000.0)
    targets = _decide(6000, policy)
    spent = targets.loc[targets["decision"] == "treat", "offer_cost"].sum()
    assert 2000.0 - 60.0 < spent <= 2000.0
    assert (targets.loc[targets["decision"] != "treat", "offer_cost"] == 0).all()
    price = targets["budget_price"].iloc[0]
    assert price > 0, "a binding budget has a price"
    assert (_decide(6000, _policy())["budget_price"] == 0).all(), "no budget, no price"
    # worth at the budget's price of the arm each customer was (or would have been) offered first
    costs = {a: policy.interventions[a].cost for a in policy.arm_names}
    shown = targets[targets["decision"].isin(["control", "holdout", "over_capacity"])]
    worth = shown["expected_net_value"] - price * shown["intervention"].map(costs)
    entered = worth[shown["decision"] != "over_capacity"]
    left_out = worth[shown["decision"] == "over_capacity"]
    assert len(left_out) > 100
    assert entered.median() > left_out.median() + 20


def test_risk_ranking_keeps_the_playbooks_default_arm() -> None:
    policy = _policy()
    targets = _decide(4000, policy, ranking="risk")
    treated = targets[targets["decision"] == "treat"]
    defaults = {pb.name: pb for pb in policy.playbooks}
    for row in treated.to_dict("records"):
        book = defaults[row["playbook"]]
        allowed = [a.intervention for a in book.arms]
        assert row["arm"] == next(a for a in allowed if a in json.loads(row["arm_probabilities"]))
    assert (targets.loc[targets["decision"].isin(MEASURED), "allocation"] == "risk").all()
    assert "negative_value" not in set(targets["decision"])


def test_the_shadow_price_spends_the_budget_on_what_buys_the_most() -> None:
    from churn_platform.lib.retention.targets import shadow_price

    rng = np.random.default_rng(11)
    gain = rng.uniform(0, 200, size=(500, 3))
    cost = np.array([8.0, 20.0, 60.0])
    allowed = np.ones_like(gain, dtype=bool)
    assert shadow_price(gain, cost, allowed, None, 0.1) == 0.0
    assert shadow_price(gain, cost, allowed, 1e9, 0.1) == 0.0, "a budget that does not bind costs nothing"
    price = shadow_price(gain, cost, allowed, 2000.0, 0.1)
    worth = gain - (1 + price) * cost
    best = worth.argmax(axis=1)
    takes = worth.max(axis=1) > 0
    spent = 0.9 * cost[best][takes].sum()
    assert price > 0
    assert 2000.0 - 60.0 <= spent <= 2000.0
    # at that price the cheap arm is chosen more often than by net value alone
    assert (best[takes] == 0).mean() > ((gain - cost).argmax(axis=1)[takes] == 0).mean()
