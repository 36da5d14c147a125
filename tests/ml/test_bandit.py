"""The arms' posterior learns a known effect per cell; Thompson probabilities respect eligibility and the floor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.bandit import arm_evidence, posterior, thompson_probabilities


def _history(n: int, seed: int = 0) -> pd.DataFrame:
    """Training halves churn in the smb cell and does nothing for enterprise; the model is calibrated."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(["smb", "enterprise"], n)
    arm = rng.choice(["control", "training", "discount"], n, p=[0.2, 0.4, 0.4])
    p = rng.uniform(0.1, 0.4, n)
    effect = np.where((arm == "training") & (segment == "smb"), 0.5, 0.0)
    churned = rng.random(n) < p * (1 - effect)
    return pd.DataFrame({"segment": segment, "arm": arm, "churn_probability": p, "churned": churned})


def test_the_posterior_learns_the_effect_in_each_cell() -> None:
    evidence = arm_evidence(_history(40_000), ["segment"])
    assert evidence["customers"].sum() == 40_000
    post = posterior(
        evidence, ["segment"], [("smb",), ("enterprise",)], ["training", "discount"], {"training": 0.05},
        strength=20, draws=2000, rng=np.random.default_rng(1),
    )  # fmt: skip
    mean = pd.DataFrame(post.mean(), index=[c[0] for c in post.cells], columns=post.arms)
    assert mean.loc["smb", "training"] == pytest.approx(0.5, abs=0.05)
    assert mean.loc["enterprise", "training"] == pytest.approx(0.0, abs=0.06)
    assert mean.loc["smb", "discount"] == pytest.approx(0.0, abs=0.06)
    summary = post.summary()
    smb = summary[(summary["cell"] == "smb") & (summary["arm"] == "training")].iloc[0]
    assert smb["low"] < 0.5 < smb["high"]
    # a context never seen falls back to the pooled cell
    assert post.cell_index(pd.DataFrame({"segment": ["mid_market"]}))[0] == len(post.cells) - 1


def test_before_any_outcome_the_prior_holds_and_calibration_steadies_a_small_control() -> None:
    empty = arm_evidence(pd.DataFrame(), ["segment"])
    prior = posterior(empty, ["segment"], [("smb",)], ["training"], {"training": 0.05}, 20, 400,
                      np.random.default_rng(2))  # fmt: skip
    assert prior.mean()[0, 0] == pytest.approx(0.05, abs=1e-9)
    # ten controls who all churned would make every arm look wonderful; the model's calibration says otherwise
    few = pd.DataFrame({"segment": "smb", "arm": ["control"] * 10 + ["training"] * 2000,
                        "churn_probability": 0.2, "churned": [True] * 10 + [False] * 1600 + [True] * 400})  # fmt: skip
    ev = arm_evidence(few, ["segment"])
    loose = posterior(ev, ["segment"], [("smb",)], ["training"], {}, 20, 400, np.random.default_rng(3), 1.0)
    steady = posterior(
        ev, ["segment"], [("smb",)], ["training"], {}, 20, 400, np.random.default_rng(3), 200.0
    )
    assert loose.mean()[0, 0] > 0.5
    assert steady.mean()[0, 0] == pytest.approx(0.0, abs=0.1)


def test_thompson_probabilities_respect_eligibility_and_the_floor() -> None:
    evidence = arm_evidence(_history(40_000), ["segment"])
    post = posterior(evidence, ["segment"], [("smb",), ("enterprise",)], ["training", "discount"], {}, 20, 1000,
                     np.random.default_rng(4))  # fmt: skip
    cell = np.array([0, 0, 1])
    eligible = np.array([[True, True], [False, True], [True, True]])
    probs = thompson_probabilities(
        np.full(3, 1000.0), cell, eligible, np.array([20.0, 45.0]), post, floor=0.1
    )
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs[0, 0] == pytest.approx(0.9)  # training is clearly best in smb: all but the floor
    assert probs[1].tolist() == [0.0, 1.0]  # the only eligible arm
    assert probs[2].min() >= 0.1
