"""Deciding who is contacted, with which intervention, and who is held out to measure it.

Every scored customer in an actionable tier gets exactly one decision, stamped with the model and policy
versions: let go (not valuable), not contactable (unsubscribed, no consent for any arm's channel, contacted
within the cooldown), no playbook, negative expected value, over budget or capacity, holdout, control, or treat.

Next best action (``allocation.ranking: next_best_action``): for each customer and each arm (intervention) of
their playbook whose channel they consented to, expected net value = P(churn) x uplift x value - cost, where
the uplift comes from the registered uplift model (``uplift``) when it is the champion, else from the posterior
of each arm's relative effect in the customer's context cell (:mod:`ml.bandit`). Arms with a negative expected
value are never used; a customer with none positive is ``negative_value`` (this is how those whom contact puts
off are left alone). A budget is priced: at the shadow price that spends it, an arm is worth P(churn) x uplift
x value - (1 + price) x cost. Arms are drawn, and customers enter, by that worth until the budget and each
channel's capacity are spent (``over_capacity`` after that); each entrant's assignment is drawn on entry, so
treated and control differ by the draw alone:

- ``holdout``: the standing global holdout, a stable seeded share of all customers no campaign contacts;
- ``control``: the campaign's own control share;
- ``treat``: an arm drawn with its Thompson-sampling probability (never below the floor) among the positive ones.

Every row logs the probabilities it was drawn with (``control_probability``, ``assignment_probability`` of what
happened, ``arm_probabilities`` of every arm), and the draws are hashes of (seed, snapshot, customer), so a
decision can be reproduced and policies compared offline (:func:`ml.experiment.ips_value`).

Risk ranking (``ranking: risk``) is the old rule: riskiest first, the playbook's default arm, a random control.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from churn_platform.lib.delivery.channels import consent_column
from churn_platform.lib.retention.policy import RetentionPolicy
from ml.bandit import Posterior, arm_evidence, greedy_probabilities, posterior, thompson_probabilities

Ranking = Literal["risk", "next_best_action"]
HOLDOUT = "holdout"
CONTROL = "control"


def _stable_seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:12], 16)


def stable_uniform(ids: pd.Series | np.ndarray | list[str], *key: object) -> np.ndarray:
    """One uniform draw in [0, 1) per id, fixed by (key, id): the same customer always draws the same number."""
    prefix = "|".join(map(str, key)) + "|"
    return np.array(
        [
            int.from_bytes(hashlib.blake2b((prefix + str(i)).encode(), digest_size=8).digest(), "big") / 2**64
            for i in ids
        ]
    )


def in_global_holdout(ids: pd.Series | np.ndarray | list[str], policy: RetentionPolicy) -> np.ndarray:
    """Whether each customer belongs to the standing global holdout (stable across snapshots and runs)."""
    share = policy.experiment.global_holdout
    return stable_uniform(ids, "holdout", policy.experiment.holdout_seed) < share


def _consent(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _where(mask: np.ndarray, values: np.ndarray, otherwise: np.ndarray | None = None) -> np.ndarray:
    """``values`` where ``mask`` holds, else ``otherwise`` (default None), as an object array."""
    out = np.full(len(mask), None, dtype=object) if otherwise is None else otherwise.astype(object).copy()
    out[mask] = np.asarray(values, dtype=object)[mask]
    return out


def value_band(values: pd.Series) -> pd.Series:
    """low / mid / high thirds by value rank (robust to ties and to groups of one or two customers)."""
    share = values.fillna(0.0).rank(method="first", pct=True).to_numpy()
    return pd.Series(
        np.where(share <= 1 / 3, "low", np.where(share <= 2 / 3, "mid", "high")), index=values.index
    )


def p_control_of(policy: RetentionPolicy) -> float:
    """Probability that a customer entering a campaign is held out (global holdout or campaign control)."""
    holdout = policy.experiment.global_holdout
    return holdout + (1 - holdout) * policy.control_share


def shadow_price(
    gain: np.ndarray, cost: np.ndarray, allowed: np.ndarray, budget: float | None, p_control: float
) -> float:
    """The price per money unit of the budget (0 when there is none, or it is not binding): the smallest at
    which treating every customer whose best arm still gains more than (1 + price) x its cost spends no more
    than ``budget`` in expectation (a ``p_control`` share of entrants costs nothing). ``gain``: customers x arms
    (expected churn avoided x value); ``allowed``: which arms each customer may get."""

    def spend(price: float) -> float:
        worth = np.where(allowed, gain - (1 + price) * cost[None, :], -np.inf)
        best = worth.argmax(axis=1)
        takes = worth[np.arange(len(worth)), best] > 0
        return float((1 - p_control) * cost[best][takes].sum())

    if budget is None or len(gain) == 0 or spend(0.0) <= budget:
        return 0.0
    low, high = 0.0, 1.0
    while spend(high) > budget and high < 1e6:
        low, high = high, high * 2
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (low, mid) if spend(mid) <= budget else (mid, high)
    return high


def arm_posterior(
    policy: RetentionPolicy, frame: pd.DataFrame, history: pd.DataFrame | None, decided_on: dt.date
) -> Posterior:
    """The posterior of every arm's relative effect per context cell present in ``frame``, from ``history``
    (measured decisions: the context columns, ``arm``, ``churned``, ``churn_probability``)."""
    rules = policy.allocation
    context = list(rules.context)
    evidence = arm_evidence(history if history is not None else pd.DataFrame(), context)
    cells = (
        sorted({tuple(map(str, k)) for k in zip(*[frame[c] for c in context], strict=True)})
        if context
        else []
    )
    rng = np.random.default_rng(_stable_seed(rules.seed, decided_on, "posterior"))
    arms = policy.arm_names
    return posterior(
        evidence, context, cells, arms, {a: rules.prior_for(a) for a in arms}, rules.prior_strength,
        rules.draws, rng, rules.calibration_strength, rules.cell_strength,
    )  # fmt: skip


def select_targets(
    scores: pd.DataFrame,
    values: pd.DataFrame,
    customers: pd.DataFrame,
    last_contacts: pd.DataFrame,
    policy: RetentionPolicy,
    decided_on: dt.date,
    ranking: Ranking | None = None,
    uplift: pd.DataFrame | None = None,
    only: set[str] | None = None,
    consent: Mapping[str, str] | None = None,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One decision row per actionable scored customer (optionally only those in ``only``).

    ``scores``: customer_id, snapshot_date, churn_probability, risk_tier, top_feature, model_version,
    policy_version. ``values``: customer_id, customer_value, valuable. ``customers``: customer_id,
    is_unsubscribed, the consent column of each channel (a missing column or an empty value is no consent) and,
    when the allocation's context uses them, segment and plan; ``consent`` is the profile's channel -> column
    mapping (``contact.consent``). ``last_contacts``: customer_id, last_contacted_on. ``ranking``: default the
    policy's. ``uplift``: the uplift model's prediction (customer_id plus ``uplift_<intervention>``, the
    absolute reduction of the churn probability); without it the arms' posterior from ``history`` is used
    (measured decisions: context columns, arm, churned, churn_probability; None: the prior alone).
    """
    ranking = ranking or policy.allocation.ranking
    frame = scores[scores["risk_tier"].isin(policy.actionable_tiers)].copy()
    if only is not None:
        frame = frame[frame["customer_id"].isin(only)]
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    frame = frame.merge(values[["customer_id", "customer_value", "valuable"]], on="customer_id", how="left")
    consent_of = {name: consent_column(name, consent) for name in policy.channels}
    extra = [c for c in ("segment", "plan") if c in customers.columns and c not in frame.columns]
    wanted = sorted({"marketing_consent", *consent_of.values()} & set(customers.columns))
    frame = frame.merge(
        customers[["customer_id", "is_unsubscribed", *wanted, *extra]], on="customer_id", how="left"
    )
    frame = frame.merge(last_contacts[["customer_id", "last_contacted_on"]], on="customer_id", how="left")
    for column in ("segment", "plan"):
        if column not in frame.columns:
            frame[column] = "all"
        frame[column] = frame[column].astype("string").fillna("unknown").astype(str)
    frame["factor"] = [policy.factor_of(f) for f in frame["top_feature"]]
    books = [policy.playbook_for(t, f) for t, f in zip(frame["risk_tier"], frame["factor"], strict=True)]
    frame["playbook"] = [b.name if b else None for b in books]
    frame["timeline_days"] = [b.timeline_days if b else None for b in books]
    frame["value_band"] = value_band(frame["customer_value"])
    value = frame["customer_value"].fillna(0.0).to_numpy(dtype=float)
    p_churn = frame["churn_probability"].astype(float).to_numpy()

    # the arms each customer may receive: their playbook's, through a channel they consented to
    arms = policy.arm_names
    cost = np.array([policy.interventions[a].cost for a in arms])
    n, k = len(frame), len(arms)
    available = np.zeros((n, k), dtype=bool)
    arm_channel = np.full((n, k), None, dtype=object)
    arm_template = np.full((n, k), None, dtype=object)
    rank_in_book = np.full((n, k), 99, dtype=np.int64)
    consents = {ch: _consent(frame, col) for ch, col in consent_of.items()}
    for i, book in enumerate(books):
        if book is None:
            continue
        for r, arm in enumerate(book.arms):
            j = arms.index(arm.intervention)
            arm_channel[i, j], arm_template[i, j], rank_in_book[i, j] = arm.channel, arm.template, r
            available[i, j] = bool(consents[arm.channel][i])

    cooldown_start = pd.Timestamp(decided_on) - pd.Timedelta(days=policy.cooldown_days)
    contacted = pd.to_datetime(frame["last_contacted_on"])
    decision = np.full(n, "", dtype=object)
    rules = [
        ("not_valuable", ~frame["valuable"].fillna(False).astype(bool).to_numpy()),
        ("unsubscribed", frame["is_unsubscribed"].fillna(True).astype(bool).to_numpy()),
        ("no_playbook", frame["playbook"].isna().to_numpy()),
        ("no_consent", ~available.any(axis=1)),
        ("cooldown", (contacted.notna() & (contacted > cooldown_start)).to_numpy()),
    ]
    for name, mask in rules:
        decision[(decision == "") & mask] = name

    # expected uplift (absolute reduction of the churn probability) per customer and arm
    price = 0.0
    if ranking == "risk":
        allocation = "risk"
        default = np.where(available, rank_in_book, 99).argmin(axis=1)
        chosen_only = np.zeros((n, k), dtype=bool)
        chosen_only[np.arange(n), default] = available[np.arange(n), default]
        eligible = chosen_only
        delta = np.full((n, k), np.nan)
        net = p_churn[:, None] * value[:, None] - cost[None, :]
        positive = eligible
        priority = p_churn.copy()
    else:
        post = arm_posterior(policy, frame, history, decided_on)
        cell = post.cell_index(frame)
        if uplift is not None:
            allocation = "uplift_model"
            merged = frame[["customer_id"]].merge(uplift, on="customer_id", how="left")
            delta = np.column_stack(
                [
                    merged.get(f"uplift_{a}", pd.Series(np.nan, index=merged.index)).to_numpy(float)
                    for a in arms
                ]
            )
            delta = np.where(np.isnan(delta), p_churn[:, None] * post.mean()[cell], delta)
        else:
            allocation = "thompson"
            delta = p_churn[:, None] * post.mean()[cell]
        gain = delta * value[:, None]
        net = gain - cost[None, :]
        positive = available & (net > 0)
        decision[(decision == "") & ~positive.any(axis=1)] = "negative_value"
        # a budget has a price: each money unit spent on one customer is not spent on another. At the shadow
        # price that spends the budget, an arm is worth gain - (1 + price) x cost (the Lagrangian of the
        # budgeted choice): arms are drawn and customers enter by that worth, while the money lasts
        price = shadow_price(
            gain, cost, positive & (decision == "")[:, None], policy.budget, p_control_of(policy)
        )
        priced = cost * (1 + price)
        eligible = positive

    # assignment probabilities among the arms (given treatment)
    floor = policy.allocation.floor
    rows = np.flatnonzero(decision == "")
    within = np.zeros((n, k))
    if ranking == "risk":
        within[rows] = eligible[rows].astype(float)
    elif allocation == "uplift_model":
        within[rows] = greedy_probabilities((gain - priced[None, :])[rows], eligible[rows], floor)
    else:
        within[rows] = thompson_probabilities(
            (p_churn * value)[rows], cell[rows], eligible[rows], priced, post, floor
        )
    p_control = p_control_of(policy)
    if ranking != "risk":
        # what entering is worth under this allocation, at the budget's price
        priority = (within * np.where(eligible, gain - priced[None, :], 0.0)).sum(axis=1)

    # enter by priority and draw at once, while the budget and each channel's capacity last: a customer is
    # offered only the arms whose channel still has room and whose cost still fits, renormalised (the draws
    # before theirs do not depend on their outcome, so the logged probabilities stay valid for weighting)
    ids = frame["customer_id"].to_numpy()
    holdout = in_global_holdout(ids, policy)
    u_control = stable_uniform(ids, "control", policy.control_seed, decided_on)
    u_arm = stable_uniform(ids, "arm", policy.allocation.seed, decided_on)
    open_ = np.flatnonzero(decision == "")
    order = open_[np.lexsort((ids[open_], -priority[open_]))]
    budget_left = policy.budget if policy.budget is not None else np.inf
    capacity = {ch: int(rules_for.daily_capacity) for ch, rules_for in policy.channels.items()}
    drawn = np.zeros(n, dtype=np.int64)
    for i in order:
        room = np.array([capacity.get(str(ch), 0) > 0 if ch is not None else False for ch in arm_channel[i]])
        allowed = (within[i] > 0) & room & (cost <= budget_left + 1e-9)
        if not allowed.any():
            decision[i] = "over_capacity"
            within[i] = 0.0
            continue
        within[i] = np.where(allowed, within[i], 0.0) / within[i][allowed].sum()
        if holdout[i]:
            decision[i] = HOLDOUT
        elif u_control[i] < policy.control_share:
            decision[i] = CONTROL
        else:
            decision[i] = "treat"
            j = min(int((u_arm[i] >= np.cumsum(within[i])).sum()), k - 1)
            while within[i, j] == 0:  # rounding at the top end of the cumulative sum
                j -= 1
            drawn[i] = j
            capacity[str(arm_channel[i, j])] -= 1
            budget_left -= cost[j]
    treat = decision == "treat"
    best = np.where(positive, net, -np.inf).argmax(axis=1)
    show = np.where(treat, drawn, best)  # what a control customer would have been offered first

    pick = np.arange(n)
    measured = np.isin(decision, ["treat", CONTROL, HOLDOUT])
    names = np.array(arms, dtype=object)
    frame["arm"] = _where(treat, names[drawn], _where(measured, np.full(n, CONTROL, dtype=object)))
    considered = measured | (decision == "over_capacity")  # the arm they were (or would have been) offered
    has_arm = treat | (considered & positive[pick, show])
    frame["intervention"] = _where(has_arm, names[show])
    frame["channel"] = _where(has_arm, arm_channel[pick, show])
    frame["template"] = _where(has_arm, arm_template[pick, show])
    frame["offer"] = [policy.interventions[a].offer_in() if a else None for a in frame["intervention"]]
    frame["offer_cost"] = np.where(treat, cost[show], 0.0)
    frame["expected_uplift"] = np.where(np.isnan(delta[pick, show]), np.nan, delta[pick, show])
    frame["expected_net_value"] = net[pick, show]
    frame["control_probability"] = np.where(measured, p_control, np.nan)
    arm_share = (1 - p_control) * within
    frame["assignment_probability"] = np.where(
        treat, arm_share[pick, drawn], np.where(measured, p_control, np.nan)
    )
    frame["arm_probabilities"] = [
        json.dumps({a: float(arm_share[i, j]) for j, a in enumerate(arms) if within[i, j] > 0})
        if measured[i]
        else None
        for i in range(n)
    ]
    frame["allocation"] = _where(measured, np.full(n, allocation, dtype=object))
    frame["budget_price"] = price if ranking != "risk" else 0.0
    frame["decision"] = decision
    frame["campaign_id"] = [
        f"{pd.Timestamp(s).date()}:{pb}" if pb else None
        for s, pb in zip(frame["snapshot_date"], frame["playbook"], strict=True)
    ]
    frame["wave"] = 1
    frame["decided_on"] = pd.Timestamp(decided_on)
    frame["retention_policy_version"] = policy.version
    frame["ranking"] = ranking
    return frame
