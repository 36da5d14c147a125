"""The same rows and settings give the same models and scores, whatever order the rows arrive in; columns with
nothing to learn from are left out and named, never a crash."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from churn_platform.lib.ml_pipeline import (
    TIER_CUTOFFS,
    promote,
    read_table,
    reason_wording,
    score_customers,
    train_and_judge,
    write_tables,
)
from churn_platform.profile import load_profile
from ml.models import FeatureSpec
from ml.policy import ChurnPolicy
from ml.score import assign_tiers, score_frame
from ml.tracking import configure
from ml.train import SEARCH_SPACE, TrainConfig, search_grid, train_candidates
from tests.ml.synthetic import churn_table


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    frame = churn_table(n_per_snapshot=400, seed=11)
    frame["days_to_onboard"] = np.nan  # a company without onboarding dates
    frame["latest_nps"] = None  # ... and without NPS surveys
    frame["segment"] = "consumer"  # one segment only
    return frame


def _probabilities(frame: pd.DataFrame, config: TrainConfig) -> dict[str, np.ndarray]:
    return {c.kind: c.validation_probability for c in train_candidates(frame, config)}


def test_training_twice_gives_identical_probabilities_whatever_the_row_order(table: pd.DataFrame) -> None:
    config = TrainConfig()
    first = _probabilities(table, config)
    shuffled = table.sample(frac=1.0, random_state=3)
    second = _probabilities(shuffled, config)
    assert set(first) == {"logistic_regression", "random_forest", "catboost"}
    for kind, p in first.items():
        assert np.array_equal(p, second[kind]), kind


def test_the_search_is_a_fixed_number_of_trials(table: pd.DataFrame) -> None:
    config = TrainConfig(kinds=("catboost",), search_trials=2)
    runs = [train_candidates(table, config) for _ in range(2)]
    for a, b in zip(*runs, strict=True):
        assert a.search["tried"] == a.search["trials"] == 2
        assert not a.search["stopped_early"]
        assert a.search["params"] == b.search["params"]
        assert np.array_equal(a.validation_probability, b.validation_probability), a.kind
    grid = search_grid("catboost", 42)
    assert grid == search_grid("catboost", 42)
    assert len(grid) == np.prod([len(v) for v in SEARCH_SPACE["catboost"].values()])
    assert len({tuple(sorted(g.items())) for g in grid}) == len(grid), "no setting is tried twice"


def test_the_time_limit_is_only_a_safety_stop_and_says_so(
    table: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    config = TrainConfig(kinds=("logistic_regression",), search_trials=3, search_max_seconds=1e-9)
    with caplog.at_level(logging.WARNING, logger="ml.train"):
        (candidate,) = train_candidates(table, config)
    assert candidate.search["stopped_early"]
    assert candidate.search["tried"] < 3
    assert "stopped by its safety limit" in caplog.text


def test_columns_without_values_are_left_out_and_named(table: pd.DataFrame) -> None:
    spec = FeatureSpec.infer(table, exclude=("customer_id", "snapshot_date", "churned"))
    assert spec.left_out_columns == ("days_to_onboard", "latest_nps", "segment")
    assert "days_to_onboard left out: no values in the training rows" in spec.notes
    assert "segment left out: the same value ('consumer') in every training row" in spec.notes
    assert "login_30d" in spec.numeric
    assert spec.categorical == ("plan",)
    (candidate,) = train_candidates(table, TrainConfig(kinds=("catboost",)))
    assert candidate.model.spec.left_out_columns == spec.left_out_columns
    # the scoring set still carries them: accepted, ignored
    scored = score_frame(
        candidate.model, table.drop(columns=["churned"]).head(200), ChurnPolicy(version="t"), "1"
    )
    assert len(scored.scores) == 200
    with pytest.raises(ValueError, match="no column of the training set has values"):
        train_candidates(table[["customer_id", "snapshot_date", "churned", "days_to_onboard"]])


def _warehouse(path: Path, frame: pd.DataFrame, seed: int) -> None:
    """ml_training_set and ml_scoring_set as dbt would leave them, rows in an arbitrary (seeded) order."""
    shuffled = frame.sample(frac=1.0, random_state=seed)
    newest = shuffled["snapshot_date"].max()
    scoring = shuffled[shuffled["snapshot_date"] == newest].drop(columns=["churned"])
    con = duckdb.connect(str(path))
    try:
        con.register("training", shuffled)
        con.register("scoring", scoring)
        con.execute("create or replace table ml_training_set as select * from training")
        con.execute("create or replace table ml_scoring_set as select * from scoring")
    finally:
        con.close()


def test_train_and_judge_and_scoring_repeat_exactly_on_a_real_warehouse(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    policy = ChurnPolicy(version="t")
    wording = reason_wording(load_profile("saas"))
    config = TrainConfig()
    outcomes, scorings = [], []
    for round_ in (1, 2):
        root = tmp_path / f"round{round_}"
        root.mkdir()
        warehouse = root / "warehouse.duckdb"
        _warehouse(warehouse, table, seed=round_)
        configure(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts", experiment="repro")
        outcome = train_and_judge(warehouse, "churn_repro", policy, config, root / "plots")
        promote("churn_repro", outcome.best_version, outcome.catboost_version)
        scoring = score_customers(warehouse, "churn_repro", policy, wording=wording)
        write_tables(warehouse, {TIER_CUTOFFS: scoring.cutoffs_table()}, append=(TIER_CUTOFFS,))
        outcomes.append(outcome)
        scorings.append(scoring)
        recorded = read_table(warehouse, f"select * from {TIER_CUTOFFS}")
        assert list(recorded["tier"]) == ["critical", "high", "medium", "low"]
        cutoffs = dict(zip(recorded["tier"][:3], recorded["cutoff"][:3], strict=True))
        tiers = assign_tiers(scoring.scores["churn_probability"].to_numpy(), cutoffs)
        assert list(tiers) == list(scoring.scores["risk_tier"]), (
            "the recorded cut-offs re-tier every customer"
        )
    first, second = outcomes
    assert "days_to_onboard left out: no values in the training rows" in first.notes
    for a, b in zip(first.candidates, second.candidates, strict=True):
        assert np.array_equal(a.validation_probability, b.validation_probability), a.kind
    assert first.metrics_table.drop(columns=["version"]).equals(
        second.metrics_table.drop(columns=["version"])
    )
    columns = [
        "customer_id",
        "churn_probability",
        "risk_tier",
        "reason_1",
        "reason_2",
        "reason_3",
        "top_feature",
    ]
    a, b = (s.scores[columns].reset_index(drop=True) for s in scorings)
    pd.testing.assert_frame_equal(a, b)
    assert scorings[0].cutoffs == scorings[1].cutoffs
    assert (a["risk_tier"] != "low").mean() == pytest.approx(0.15, abs=0.01)
    assert a.loc[a["risk_tier"] != "low", "reason_1"].notna().all()

    import mlflow

    run = mlflow.get_run(second.logged["catboost"].run_id)  # the second round's store is the active one
    assert "days_to_onboard (no values in the training rows)" in run.data.tags["features_left_out"]
    assert run.data.params["search_trials"] == "0"
    assert run.data.params["threads"] == "2"


def test_appending_a_frame_with_a_new_column_widens_the_table(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    write_tables(
        warehouse,
        {"monitoring.report_runs": pd.DataFrame({"report": ["a"]})},
        append=("monitoring.report_runs",),
    )
    write_tables(
        warehouse,
        {"monitoring.report_runs": pd.DataFrame({"report": ["b"], "notes": ["x left out"]})},
        append=("monitoring.report_runs",),
    )
    got = read_table(warehouse, "select * from monitoring.report_runs order by report")
    assert list(got["report"]) == ["a", "b"]
    assert got["notes"].isna().tolist() == [True, False]
