"""Experiment design against known cases; effect estimates on constructed data whose effect is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.experiment import (
    NOT_MEASURABLE,
    control_needed,
    estimate_effect,
    ips_value,
    minimum_detectable_effect,
    power_at,
    sample_size,
    verdict,
    weeks_to_detect,
)


def test_design_matches_the_textbook_case() -> None:
    # two proportions, 45% vs 41%, alpha 0.05 two-sided, power 0.8: about 2,400 per arm (the normal
    # approximation gives (1.96 + 0.8416)^2 (0.45 x 0.55 + 0.41 x 0.59) / 0.04^2 = 2,401)
    treated, control = sample_size(0.45, 0.04)
    assert treated == control
    assert 2390 <= treated <= 2410
    assert minimum_detectable_effect(0.45, treated, control) == pytest.approx(0.04, abs=5e-4)
    assert power_at(0.45, 0.04, treated, control) == pytest.approx(0.80, abs=0.005)
    # 107 treated and 12 control (the campaign that read "ROI -2064%") can detect only a huge effect
    assert minimum_detectable_effect(0.45, 107, 12) > 0.35
    assert power_at(0.45, 0.04, 107, 12) < 0.1


def test_unequal_groups_and_the_control_a_design_needs() -> None:
    # a smaller control needs more treated for the same MDE
    treated, control = sample_size(0.2, 0.03, control_ratio=0.25)
    assert control == math.ceil(treated * 0.25)
    assert treated > sample_size(0.2, 0.03)[0]
    needed = control_needed(0.2, 0.03, n_treated=treated)
    assert needed is not None
    assert abs(needed - control) <= 2
    # with too few treated no control group is large enough
    assert control_needed(0.2, 0.03, n_treated=500) is None
    assert power_at(0.2, 0.03, treated, needed) >= 0.8


def test_weeks_to_detect_follow_the_intake() -> None:
    treated, control = sample_size(0.2, 0.03)
    assert weeks_to_detect(0.2, 0.03, treated, control, 100, 100) == 0.0
    half = weeks_to_detect(0.2, 0.03, treated / 2, control / 2, treated / 20, control / 20)
    assert 9.5 <= half <= 10.5  # the other half arrives in ten weeks
    assert weeks_to_detect(0.2, 0.03, 10, 10, 0, 0) == math.inf
    faster = weeks_to_detect(0.2, 0.03, 10, 10, treated / 5, control / 5)
    assert faster < half


def _campaign(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Riskier customers are twice as likely to be treated (as adaptive allocation does); the true effect is
    a 30% relative reduction of churn for everyone."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.6, n)
    p_treat = np.where(p > 0.3, 0.8, 0.4)
    treated = rng.random(n) < p_treat
    churned = rng.random(n) < np.where(treated, p * 0.7, p)
    weights = np.where(treated, 1 / p_treat, 1 / (1 - p_treat))
    return churned, treated, weights, p, float(np.mean(p * 0.3))


def test_estimates_recover_a_known_effect_and_weights_remove_the_allocation_bias() -> None:
    churned, treated, weights, p, truth = _campaign(40_000, seed=1)
    naive = estimate_effect(churned, treated)
    weighted = estimate_effect(churned, treated, weights)
    adjusted = estimate_effect(churned, treated, weights, covariate=p)
    # treating the riskier more often makes the naive comparison look harmful
    assert naive.effect < 0 < truth
    for est in (weighted, adjusted):
        assert est.low < truth < est.high
        assert est.effect == pytest.approx(truth, abs=0.01)
    assert adjusted.se < weighted.se, "the pre-treatment probability explains churn: a narrower interval"
    assert verdict(adjusted.low, adjusted.high) == "works"


def test_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    hits = 0
    for seed in range(200):
        churned, treated, weights, p, truth = _campaign(2000, seed=100 + seed)
        est = estimate_effect(churned, treated, weights, covariate=p)
        hits += est.low <= truth <= est.high
    assert 0.91 <= hits / 200 <= 0.99


def test_tiny_groups_are_not_measurable() -> None:
    est = estimate_effect(np.array([1.0, 0.0, 1.0]), np.array([True, False, False]))
    assert math.isnan(est.effect)
    assert verdict(est.low, est.high) == NOT_MEASURABLE
    assert verdict(-0.31, 0.20) == NOT_MEASURABLE
    assert verdict(-0.3, -0.01) == "harms"
    with pytest.raises(ValueError, match="one value per customer"):
        estimate_effect(np.zeros(3), np.zeros(2, dtype=bool))
    with pytest.raises(ValueError, match="positive"):
        estimate_effect(np.zeros(4), np.array([True, True, False, False]), np.array([1, 0, 1, 1]))


def test_inverse_propensity_scores_another_policy_from_logged_decisions() -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    reward_a, reward_b = 1.0, 3.0  # what action a and b earn
    logged_b = rng.random(n) < 0.2  # the logging policy takes b one time in five
    reward = np.where(logged_b, reward_b, reward_a) + rng.normal(0, 0.5, n)
    probability = np.where(logged_b, 0.2, 0.8)
    ips, snips = ips_value(reward, probability, matches=logged_b.astype(float))  # "always b"
    assert ips == pytest.approx(reward_b, abs=0.1)
    assert snips == pytest.approx(reward_b, abs=0.05)
