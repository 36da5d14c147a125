"""Deciding who is contacted, how, and who is held out to measure it.

Every scored customer in an actionable tier gets exactly one decision, stamped with the model and policy
versions: let go (not valuable), not contactable (no consent, unsubscribed, contacted within the cooldown),
no playbook, over capacity, control, or treat. The control group is drawn at random (seeded, stratified by
tier) from the customers who would otherwise be treated, so treated and control differ only by the treatment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from churn_platform.lib.delivery.channels import consent_column
from churn_platform.lib.retention.policy import RetentionPolicy

Ranking = Literal["risk", "uplift_value"]


def _stable_seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:12], 16)


def _has_consent(frame: pd.DataFrame, consent_of: Mapping[str, str]) -> pd.Series:
    """Per row: the consent column of the row's channel is true (no playbook: marketing consent)."""
    allowed = np.zeros(len(frame), dtype=bool)
    pairs: list[tuple[str | None, str]] = [*consent_of.items(), (None, "marketing_consent")]
    for channel, column in pairs:
        rows = (frame["channel"].isna() if channel is None else frame["channel"] == channel).to_numpy()
        if column in frame.columns:
            given = frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)
            allowed[rows] = given[rows]
    return pd.Series(allowed, index=frame.index)


def select_targets(
    scores: pd.DataFrame,
    values: pd.DataFrame,
    customers: pd.DataFrame,
    last_contacts: pd.DataFrame,
    policy: RetentionPolicy,
    decided_on: dt.date,
    ranking: Ranking = "risk",
    uplift: pd.DataFrame | None = None,
    only: set[str] | None = None,
    consent: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One decision row per actionable scored customer (optionally only those in ``only``).

    ``scores``: customer_id, snapshot_date, churn_probability, risk_tier, top_feature, model_version, policy_version.
    ``values``: customer_id, customer_value, valuable. ``customers``: customer_id, is_unsubscribed and the
    consent column of each channel (``marketing_consent``, ``sms_consent``, ``push_consent``; a missing column
    or an empty value is no consent); ``consent`` is the profile's channel -> column mapping (``contact.consent``).
    A customer without consent for their playbook's channel is ``no_consent``. ``last_contacts``: customer_id, last_contacted_on. ``uplift`` (for ranking by expected net
    value): customer_id plus one ``uplift_<intervention>`` column per intervention.
    """
    frame = scores[scores["risk_tier"].isin(policy.actionable_tiers)].copy()
    if only is not None:
        frame = frame[frame["customer_id"].isin(only)]
    frame = frame.merge(values[["customer_id", "customer_value", "valuable"]], on="customer_id", how="left")
    consent_of = {name: consent_column(name, consent) for name in policy.channels}
    wanted = sorted({"marketing_consent", *consent_of.values()} & set(customers.columns))
    frame = frame.merge(customers[["customer_id", "is_unsubscribed", *wanted]], on="customer_id", how="left")
    frame = frame.merge(last_contacts[["customer_id", "last_contacted_on"]], on="customer_id", how="left")
    frame["factor"] = [policy.factor_of(f) for f in frame["top_feature"]]
    books = [policy.playbook_for(t, f) for t, f in zip(frame["risk_tier"], frame["factor"], strict=True)]
    frame["playbook"] = [b.name if b else None for b in books]
    frame["intervention"] = [b.intervention if b else None for b in books]
    frame["channel"] = [b.channel if b else None for b in books]
    frame["template"] = [b.template if b else None for b in books]
    frame["timeline_days"] = [b.timeline_days if b else None for b in books]
    frame["offer_cost"] = [policy.interventions[b.intervention].cost if b else 0.0 for b in books]
    frame["offer"] = [policy.interventions[b.intervention].offer_in() if b else None for b in books]
    value = frame["customer_value"].fillna(0.0)
    if ranking == "uplift_value" and uplift is not None:
        merged = frame[["customer_id", "intervention"]].merge(uplift, on="customer_id", how="left")
        effect = np.array(
            [
                row.get(f"uplift_{kind}", np.nan) if kind else np.nan
                for row, kind in zip(merged.to_dict("records"), merged["intervention"], strict=True)
            ],
            dtype=float,
        )
        frame["expected_uplift"] = np.nan_to_num(effect)
        frame["expected_net_value"] = (
            frame["churn_probability"] * frame["expected_uplift"] * value - frame["offer_cost"]
        )
    else:
        frame["expected_uplift"] = np.nan
        frame["expected_net_value"] = frame["churn_probability"] * value - frame["offer_cost"]

    cooldown_start = pd.Timestamp(decided_on) - pd.Timedelta(days=policy.cooldown_days)
    contacted = pd.to_datetime(frame["last_contacted_on"])
    decision = np.full(len(frame), "", dtype=object)
    rules = [
        ("not_valuable", ~frame["valuable"].fillna(False).astype(bool)),
        ("unsubscribed", frame["is_unsubscribed"].fillna(True).astype(bool)),
        ("no_consent", ~_has_consent(frame, consent_of)),
        ("cooldown", contacted.notna() & (contacted > cooldown_start)),
        ("no_playbook", frame["playbook"].isna()),
    ]
    for name, mask in rules:
        decision[(decision == "") & mask.to_numpy()] = name
    frame["decision"] = decision

    # within each channel's capacity (control included), by priority; then a stratified random control
    priority = frame["expected_net_value"] if ranking == "uplift_value" else frame["churn_probability"]
    frame["priority"] = priority.to_numpy()
    for channel, rules_for in policy.channels.items():
        eligible = frame[(frame["decision"] == "") & (frame["channel"] == channel)]
        if ranking == "uplift_value":
            eligible = eligible[eligible["expected_net_value"] > 0]
        slots = int(rules_for.daily_capacity / (1 - policy.control_share)) if policy.control_share < 1 else 0
        ordered = eligible.sort_values(["priority", "customer_id"], ascending=[False, True])
        chosen, dropped = ordered.head(slots), ordered.iloc[slots:]
        frame.loc[dropped.index, "decision"] = "over_capacity"
        for tier, stratum in chosen.groupby("risk_tier"):
            ids = np.sort(stratum["customer_id"].to_numpy())
            rng = np.random.default_rng(_stable_seed(policy.control_seed, decided_on, channel, tier))
            n_control = round(len(ids) * policy.control_share)
            control_ids = set(rng.permutation(ids)[:n_control])
            is_control = stratum["customer_id"].isin(control_ids)
            frame.loc[stratum.index[is_control.to_numpy()], "decision"] = "control"
            frame.loc[stratum.index[~is_control.to_numpy()], "decision"] = "treat"
    frame.loc[frame["decision"] == "", "decision"] = (
        "over_capacity"  # positive net value filter in uplift mode
    )

    frame["campaign_id"] = [
        f"{pd.Timestamp(s).date()}:{pb}" if pb else None
        for s, pb in zip(frame["snapshot_date"], frame["playbook"], strict=True)
    ]
    frame["wave"] = 1
    frame["decided_on"] = pd.Timestamp(decided_on)
    frame["retention_policy_version"] = policy.version
    frame["ranking"] = ranking
    return frame.drop(columns=["priority"]).reset_index(drop=True)
