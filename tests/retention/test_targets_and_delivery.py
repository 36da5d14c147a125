"""Who may be contacted: one stamped decision per customer, consent per channel, control, capacity; the policy's
errors. Delivery itself is tested in tests/delivery/."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_platform.lib.delivery.channels import consent_column
from churn_platform.lib.retention.policy import RetentionPolicyError, load_retention_policy
from churn_platform.lib.retention.targets import select_targets
from churn_platform.settings import PROJECT_ROOT

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
            "sms_consent": rng.random(n) < 0.5,
            "push_consent": np.where(rng.random(n) < 0.2, None, rng.random(n) < 0.6),
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
    consent = pd.Series(
        [bool(row[f"{consent_column(row['channel'])}_p"] is True or row[f"{consent_column(row['channel'])}_p"] == 1)
         for row in treated.to_dict("records")],
        index=treated.index, dtype=bool,
    )  # fmt: skip
    bad = ~consent | treated["is_unsubscribed_p"].astype(bool) | recent
    bad |= ~treated["valuable"].astype(bool)
    return treated[bad]


def test_every_actionable_customer_gets_one_stamped_decision() -> None:
    targets, _ = _decide()
    assert targets["customer_id"].is_unique
    assert set(targets["risk_tier"]) <= {"critical", "high", "medium"}
    assert {
        "treat", "control", "holdout", "negative_value", "not_valuable", "no_consent", "unsubscribed", "cooldown",
    } <= set(targets["decision"])  # fmt: skip
    assert (targets["model_version"] == "3").all()
    assert targets["retention_policy_version"].eq(load_retention_policy(POLICY_FILE).version).all()
    treat = targets[targets["decision"] == "treat"]
    assert treat["playbook"].notna().all()
    assert treat["campaign_id"].str.startswith("2026-01-01:").all()


def test_control_and_holdout_are_random_seeded_and_the_holdout_is_stable() -> None:
    targets, _ = _decide(n=8000)
    policy = load_retention_policy(POLICY_FILE)
    chosen = targets[targets["decision"].isin(["treat", "control", "holdout"])]
    expected = (
        policy.experiment.global_holdout + (1 - policy.experiment.global_holdout) * policy.control_share
    )
    assert abs((chosen["decision"] != "treat").mean() - expected) < 0.03
    assert abs((chosen["decision"] == "holdout").mean() - policy.experiment.global_holdout) < 0.02
    again, _ = _decide(n=8000)
    pd.testing.assert_frame_equal(targets, again)
    other, _ = _decide(n=8000, control_seed=99)
    assert not targets["decision"].equals(other["decision"])
    # the global holdout is the same customers whatever the snapshot: a standing global control group
    scores, values, customers, contacts = population(8000)
    later = select_targets(scores, values, customers, contacts, policy, DAY + dt.timedelta(days=31))
    held = set(targets.loc[targets["decision"] == "holdout", "customer_id"])
    held_later = set(later.loc[later["decision"] == "holdout", "customer_id"])
    both = set(chosen["customer_id"]) & set(
        later.loc[later["decision"].isin(["treat", "control", "holdout"]), "customer_id"]
    )
    assert held & both == held_later & both
    assert held & both


def test_capacity_limits_each_channel() -> None:
    targets, _ = _decide(n=20000)
    policy = load_retention_policy(POLICY_FILE)
    for channel, rules in policy.channels.items():
        treated = ((targets["decision"] == "treat") & (targets["channel"] == channel)).sum()
        assert treated <= rules.daily_capacity
    assert (targets["decision"] == "over_capacity").any()


def test_consent_is_per_arm_channel() -> None:
    targets, people = _decide(n=8000)
    merged = targets.merge(people, on="customer_id", suffixes=("", "_p"))
    treated = merged[merged["decision"] == "treat"]
    for channel in ("email", "sms", "team_task"):
        rows = treated[treated["channel"] == channel]
        assert len(rows) > 5, channel
        assert rows[f"{consent_column(channel)}_p"].astype(bool).all(), channel
    billing = treated[treated["playbook"] == "rescue-billing"]
    no_sms = billing[~billing["sms_consent_p"].astype(bool)]
    assert len(no_sms) > 5
    assert (no_sms["channel"] != "sms").all(), "no SMS consent: never the SMS arm ..."
    assert (no_sms["channel"] == "email").any(), "... but still an arm by email"
    # the logged probabilities offer only the arms whose channel the customer consented to
    offered = [json.loads(a) for a in no_sms["arm_probabilities"]]
    assert all("discount" not in arms for arms in offered)


def test_an_old_policy_with_account_manager_task_still_loads(tmp_path: Path) -> None:
    text = POLICY_FILE.read_text().replace("team_task", "account_manager_task")
    path = tmp_path / "old.yaml"
    path.write_text(text)
    loaded = load_retention_policy(path)
    assert "team_task" in loaded.channels
    assert {pb.channel for pb in loaded.playbooks} >= {"team_task", "email", "sms"}


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["playbooks"][0]["arms"][1].update(intervention="free_pony"),
            "playbooks.0 (rescue-critical).arms.1: intervention 'free_pony' has no entry",
        ),
        (lambda d: d["channels"].pop("team_task"), "channel 'team_task' has no entry"),
        (
            lambda d: d["playbooks"][0]["arms"][0].update(channel="fax"),
            "unknown channel 'fax'; channels are email, sms",
        ),
        (
            lambda d: d["playbooks"][0]["arms"].append(dict(d["playbooks"][0]["arms"][0])),
            "an intervention appears twice among the arms",
        ),
        (
            lambda d: d["playbooks"][0].update(intervention="discount"),
            "give either arms or intervention/channel/template, not both",
        ),
        (lambda d: d["allocation"].update(floor=0.3), "allocation.floor: 0.3 x 4 arms exceeds 1"),
        (lambda d: d["allocation"].update(context=["weather"]), "unknown context column(s) ['weather']"),
        (
            lambda d: d["allocation"].update(prior_effect={"free_pony": 0.1}),
            "unknown intervention(s) ['free_pony']",
        ),
        (
            lambda d: d["experiment"].update(minimum_effect=0),
            "minimum_effect: Input should be greater than 0",
        ),
        (
            lambda d: d["experiment"].update(global_holdout=0.6),
            "global_holdout: Input should be less than 0.5",
        ),
        (
            lambda d: d["channels"]["sms"].update(quiet_hours={"start": "25:00", "end": "08:00"}),
            "quiet_hours.start",
        ),
        (
            lambda d: d["interventions"]["discount"].update(offer={"es": "x"}),
            "an offer per language needs `en`",
        ),
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
