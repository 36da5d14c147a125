"""The T-learner finds who is persuadable when there is someone to find, and Qini says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.models import FeatureSpec
from ml.uplift import fit_uplift, qini_coefficient


def _experiment(n: int = 12000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    usage = rng.normal(0, 1, n)
    tickets = rng.poisson(0.5, n)
    p0 = 1 / (1 + np.exp(-(-1.5 + 0.8 * usage)))
    effect = np.where(usage > 0.5, 0.6, 0.0)  # only heavy decliners are persuadable, by training
    treated = rng.random(n) < 0.5
    churned = rng.random(n) < np.where(treated, p0 * (1 - effect), p0)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "usage_decline": usage,
            "tickets": tickets,
            "intervention": "training",
            "treated": treated,
            "churned": churned,
            "true_effect": p0 * effect,
        }
    )


def test_t_learner_ranks_the_persuadable_first() -> None:
    data = _experiment()
    spec = FeatureSpec(numeric=("usage_decline", "tickets"), categorical=())
    model = fit_uplift(data, spec, seed=1)
    assert "training" in model.learners
    assert model.metrics["training"]["qini"] > 0.005
    predicted = model.predict(data)["uplift_training"]
    truly = data["true_effect"] > 0
    assert predicted[truly].mean() > predicted[~truly].mean() + 0.1


def test_qini_of_a_random_ranking_is_near_zero_and_of_the_truth_positive() -> None:
    data = _experiment(seed=3)
    retained = 1 - data["churned"].astype(int).to_numpy()
    treated = data["treated"].to_numpy()
    random_q, _ = qini_coefficient(retained, treated, np.random.default_rng(0).random(len(data)))
    truth_q, _ = qini_coefficient(retained, treated, data["true_effect"].to_numpy())
    assert abs(random_q) < 0.01
    assert truth_q > 0.01


def test_too_little_history_is_skipped_not_guessed() -> None:
    data = _experiment(n=150)
    model = fit_uplift(data, FeatureSpec(numeric=("usage_decline", "tickets"), categorical=()))
    assert model.learners == {}
    assert model.metrics["training"]["skipped"] == 1.0
