"""Risk tiers relative to the company: a 2%-churn population gets a worklist, an empty tier says why, ties are
deterministic, and one customer is tiered later by the recorded cut-offs exactly as the batch run tiered them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from ml.policy import PolicyError, RiskTiers, load_policy
from ml.tiers import assign_tiers, tier_cutoffs, tier_notes, tier_table

POLICY_FILE = Path(__file__).resolve().parents[2] / "churn_platform" / "policies" / "churn_policy.yaml"


def rare_churn(n: int = 20_000, seed: int = 0) -> np.ndarray:
    """Calibrated probabilities of a consumer app with about 2% monthly churn: none above 0.1."""
    rng = np.random.default_rng(seed)
    return np.round(np.clip(rng.beta(1.2, 58, n), 1e-4, 0.095), 6)


def counts(tiers: np.ndarray) -> dict[str, int]:
    return {t: int((tiers == t).sum()) for t in ("critical", "high", "medium", "low")}


def test_the_shipped_policy_ranks_by_default() -> None:
    tiers = load_policy(POLICY_FILE).risk_tiers
    assert (tiers.method, tiers.critical, tiers.high, tiers.medium) == ("rank", 0.01, 0.05, 0.15)
    assert RiskTiers() == tiers
    assert RiskTiers(method="absolute").critical == 0.8, "each method has its own defaults"


def test_a_two_percent_churn_company_gets_a_worklist_under_rank() -> None:
    p = rare_churn()
    assert 0.015 < p.mean() < 0.025
    assert p.max() < 0.1
    tiers = RiskTiers()
    cutoffs = tier_cutoffs(p, tiers)
    got = counts(assign_tiers(p, cutoffs))
    assert got == {"critical": 200, "high": 800, "medium": 2000, "low": 17000}
    assert cutoffs["critical"] >= cutoffs["high"] >= cutoffs["medium"] > 0
    assert tier_notes(p, tiers, cutoffs) == []
    table = tier_table(p, tiers, cutoffs).set_index("tier")
    assert table.loc["critical", "share"] == pytest.approx(0.01)
    assert table.loc["high", "cutoff"] == cutoffs["high"]
    assert table["customers"].sum() == len(p)


def test_absolute_tiers_leave_it_empty_and_say_why() -> None:
    p = rare_churn()
    tiers = RiskTiers(method="absolute")
    cutoffs = tier_cutoffs(p, tiers)
    assert cutoffs == {"critical": 0.8, "high": 0.6, "medium": 0.3}
    assert counts(assign_tiers(p, cutoffs))["low"] == len(p)
    notes = tier_notes(p, tiers, cutoffs)
    assert len(notes) == 3
    assert notes[0] == (
        f"tier critical is empty: no customer reaches 0.8 (highest {p.max():.3g}); consider method rank"
    )
    assert notes[2].startswith("tier medium is empty: no customer reaches 0.3")


def test_an_empty_middle_tier_under_absolute_names_its_band() -> None:
    p = np.array([0.95, 0.9, 0.4, 0.1])
    tiers = RiskTiers(method="absolute")
    notes = tier_notes(p, tiers, tier_cutoffs(p, tiers))
    assert notes == ["tier high is empty: no customer has a probability from 0.6 up to 0.8"]


def test_lift_tiers_are_multiples_of_the_mean_probability() -> None:
    p = rare_churn()
    tiers = RiskTiers(method="lift")
    cutoffs = tier_cutoffs(p, tiers)
    assert cutoffs == pytest.approx(
        {"critical": 5 * p.mean(), "high": 3 * p.mean(), "medium": 1.5 * p.mean()}
    )
    got = counts(assign_tiers(p, cutoffs))
    assert got["critical"] == int((p >= 5 * p.mean()).sum())
    assert all(got[t] > 0 for t in ("high", "medium"))
    unreachable = RiskTiers(method="lift", critical=60, high=3, medium=1.5)
    notes = tier_notes(p, unreachable, tier_cutoffs(p, unreachable))
    assert len(notes) == 1
    assert notes[0].startswith("tier critical is empty: no customer reaches 60 x the mean probability")
    assert "consider method rank or a lower multiple" in notes[0]


def test_ties_at_a_rank_boundary_are_kept_together_whatever_the_row_order() -> None:
    # 100 customers: 3 tied at the top, then 10 tied at 0.5, then distinct lower scores
    p = np.array([0.9] * 3 + [0.5] * 10 + list(np.linspace(0.4, 0.01, 87)))
    tiers = RiskTiers(critical=0.01, high=0.06, medium=0.2)
    cutoffs = tier_cutoffs(p, tiers)
    rng = np.random.default_rng(4)
    for _ in range(5):
        assert tier_cutoffs(rng.permutation(p), tiers) == cutoffs
    got = assign_tiers(p, cutoffs)
    for value in (0.9, 0.5):
        assert len(set(got[p == value])) == 1, "customers of equal probability share their tier"
    # critical: 1 wanted, the 3 tied can only go in together
    assert counts(got)["critical"] == 3
    # high: 6 wanted in the top; with the 0.5 block the top holds 13 (7 too many), without it 3 (3 too few)
    assert cutoffs["high"] == 0.9
    assert counts(got)["high"] == 0
    notes = tier_notes(p, tiers, cutoffs)
    assert any(
        n.startswith("tier high is empty: its share (0.06 of 100 = 6 customers) ends inside 10")
        for n in notes
    )
    # medium: 20 wanted; the block is in (13), the next 7 distinct scores follow
    assert counts(got)["medium"] == 17


def test_a_single_customer_is_tiered_by_the_recorded_cutoffs() -> None:
    p = rare_churn(5000, seed=3)
    cutoffs = tier_cutoffs(p, RiskTiers())
    batch = assign_tiers(p, cutoffs)
    for i in np.random.default_rng(1).choice(len(p), 200, replace=False):
        assert assign_tiers(float(p[i]), cutoffs)[0] == batch[i]
    with pytest.raises(ValueError, match="lack medium"):
        assign_tiers(0.5, {"critical": 0.9, "high": 0.5})


def test_nobody_scored_leaves_every_tier_unreachable() -> None:
    cutoffs = tier_cutoffs(np.array([]), RiskTiers())
    assert all(np.isinf(v) for v in cutoffs.values())
    assert tier_notes(np.array([]), RiskTiers(), cutoffs) == ["no customer was scored: every tier is empty"]
    assert tier_cutoffs([0.2, 0.1], RiskTiers()) == {"critical": 0.2, "high": 0.2, "medium": 0.2}
    assert tier_notes([0.2, 0.1], RiskTiers(), tier_cutoffs([0.2, 0.1], RiskTiers())) == [
        "tier high is empty: its share 0.05 of 2 customers rounds to the same 1 customer(s) as tier critical",
        "tier medium is empty: its share 0.15 of 2 customers rounds to the same 1 customer(s) as tier high",
    ]


@pytest.mark.parametrize(
    ("risk_tiers", "message"),
    [
        (
            {"method": "rank", "critical": 0.2, "high": 0.05},
            "risk_tiers: Value error, with method rank the shares",
        ),
        (
            {"method": "rank", "critical": 5},
            "risk_tiers.critical: Value error, with method rank, critical is the share",
        ),
        (
            {"method": "absolute", "high": 1.5},
            "risk_tiers.high: Value error, with method absolute, high is a",
        ),
        ({"method": "absolute", "critical": 0.5}, "(critical > high > medium), got critical 0.5, high 0.6"),
        (
            {"method": "lift", "medium": 0},
            "risk_tiers.medium: Value error, with method lift, medium is a multiple",
        ),
        ({"method": "percentile"}, "risk_tiers.method: Input should be 'absolute', 'rank' or 'lift'"),
        ({"method": "rank", "top": 0.01}, "risk_tiers.top: Extra inputs are not permitted"),
    ],
)
def test_bad_tiers_name_the_file_and_the_key(
    tmp_path: Path, risk_tiers: dict[str, object], message: str
) -> None:
    doc = yaml.safe_load(POLICY_FILE.read_text())
    doc["risk_tiers"] = risk_tiers
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)
