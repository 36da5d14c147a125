"""The multi-treatment T-learner finds who is persuadable by what, Qini says so against shuffled scores, and
the registered model loads from MLflow by its alias."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.models import FeatureSpec
from ml.tracking import configure, quiet_mlflow
from ml.uplift import (
    UPLIFT_ALIAS,
    fit_multiarm_uplift,
    load_uplift,
    log_uplift_model,
    qini_coefficient,
)

SPEC = FeatureSpec(numeric=("usage_decline", "tickets", "churn_probability"), categorical=("segment",))


def _experiment(n: int = 9000, seed: int = 0) -> pd.DataFrame:
    """Training works for heavy decliners only; a call works for enterprise accounts only; control 30%,
    training twice as likely as the call for decliners (adaptive allocation, logged)."""
    rng = np.random.default_rng(seed)
    usage = rng.normal(0, 1, n)
    segment = rng.choice(["smb", "enterprise"], n)
    p0 = 1 / (1 + np.exp(-(-1.0 + 0.6 * usage)))
    control = rng.random(n) < 0.3
    p_training = np.where(usage > 0.5, 0.7 * 2 / 3, 0.35)
    arm = np.where(control, "control", np.where(rng.random(n) < p_training / 0.7, "training", "success_call"))
    probability = np.where(control, 0.3, np.where(arm == "training", p_training, 0.7 - p_training))
    effect = {
        "training": np.where(usage > 0.5, 0.6, 0.0),
        "success_call": np.where(segment == "enterprise", 0.5, 0.0),
        "control": np.zeros(n),
    }
    tau = np.select([arm == a for a in effect], [effect[a] for a in effect])
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "usage_decline": usage,
            "tickets": rng.poisson(0.5, n),
            "segment": segment,
            "churn_probability": p0,
            "arm": arm,
            "assignment_probability": probability,
            "churned": rng.random(n) < p0 * (1 - tau),
            "true_training": p0 * effect["training"],
            "true_success_call": p0 * effect["success_call"],
        }
    )


def test_t_learner_ranks_the_persuadable_first_per_intervention() -> None:
    data = _experiment()
    model = fit_multiarm_uplift(data, SPEC, seed=1)
    assert sorted(model.models) == ["control", "success_call", "training"]
    assert model.beats_random
    assert model.metrics["qini"] > model.metrics["random_qini_95"]
    predicted = model.predict(data)
    for arm in ("training", "success_call"):
        truly = data[f"true_{arm}"] > 0
        assert (
            predicted.loc[truly, f"uplift_{arm}"].mean() > predicted.loc[~truly, f"uplift_{arm}"].mean() + 0.1
        )
    # the right intervention for the right customer
    enterprise_calm = (data["segment"] == "enterprise") & (data["usage_decline"] < 0)
    assert (
        predicted.loc[enterprise_calm, "uplift_success_call"]
        > predicted.loc[enterprise_calm, "uplift_training"]
    ).mean() > 0.8


def test_qini_of_a_random_ranking_is_near_zero_and_of_the_truth_positive() -> None:
    data = _experiment(seed=3)
    rows = data["arm"].isin(["control", "training"])
    retained = 1 - data.loc[rows, "churned"].astype(int).to_numpy()
    treated = (data.loc[rows, "arm"] == "training").to_numpy()
    random_q, _ = qini_coefficient(retained, treated, np.random.default_rng(0).random(int(rows.sum())))
    truth_q, _ = qini_coefficient(retained, treated, data.loc[rows, "true_training"].to_numpy())
    assert abs(random_q) < 0.01
    assert truth_q > 0.01


def test_without_an_effect_the_model_does_not_beat_random() -> None:
    data = _experiment(seed=5)
    data["churned"] = np.random.default_rng(9).random(len(data)) < data["churn_probability"]
    model = fit_multiarm_uplift(data, SPEC, seed=1)
    assert model.models, "fitted"
    assert not model.beats_random


def test_too_little_history_is_skipped_not_guessed() -> None:
    model = fit_multiarm_uplift(_experiment(n=300), SPEC)
    assert model.models == {}
    assert set(model.skipped) == {"control", "success_call", "training"}
    with pytest.raises(ValueError, match="assignment_probability"):
        fit_multiarm_uplift(_experiment(n=300).drop(columns="assignment_probability"), SPEC)


def test_the_uplift_model_is_registered_and_loads_from_mlflow_by_alias(tmp_path: Path) -> None:
    configure(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts", experiment="uplift")
    assert load_uplift("uplift_model") is None, "no champion before the first version"
    data = _experiment()
    model = fit_multiarm_uplift(data, SPEC, seed=1)
    with quiet_mlflow():
        run_id, version = log_uplift_model(model, "uplift_model", data, {"rows": len(data)})
        loaded = load_uplift("uplift_model", UPLIFT_ALIAS)
    assert version == "1"
    assert run_id
    assert loaded is not None
    assert sorted(loaded.models) == sorted(model.models)
    pd.testing.assert_frame_equal(loaded.predict(data.head(50)), model.predict(data.head(50)))
    assert not list(tmp_path.rglob("*.pkl")), "CatBoost's own format, no pickle beside it"
    # a version that does not beat random is registered but does not take the alias
    flat = data.assign(churned=np.random.default_rng(9).random(len(data)) < data["churn_probability"])
    weak = fit_multiarm_uplift(flat, SPEC, seed=1)
    with quiet_mlflow():
        _, second = log_uplift_model(weak, "uplift_model", flat)
        from mlflow.tracking import MlflowClient

        assert str(MlflowClient().get_model_version_by_alias("uplift_model", UPLIFT_ALIAS).version) == "1"
    assert second == "2"
