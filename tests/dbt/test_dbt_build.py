"""`dbt build` of the feature marts passes on a simulated company, and its spine and labels are right."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd

from churn_platform.lib.ml_pipeline import value_customers
from churn_platform.settings import PROJECT_ROOT
from ml.policy import load_policy
from tests.dbt.conftest import BuiltWarehouse


def test_build_runs_models_unit_tests_and_data_tests(built: BuiltWarehouse) -> None:
    results = built.run_results["results"]
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "test", "unit_test"} <= kinds
    failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass")]
    assert not failed, f"not passing: {failed}"


def test_snapshot_calendar_ends_at_the_latest_batch(built: BuiltWarehouse) -> None:
    calendar = built.query("select * from int_snapshot_dates order by snapshot_date")
    dates = [d.date().isoformat() for d in pd.to_datetime(calendar["snapshot_date"])]
    # usage starts 2025-01-01; 60 days of history first reached at 2025-04-01; last batch 2025-07-01
    assert dates == ["2025-04-01", "2025-05-01", "2025-06-01", "2025-07-01"]
    assert calendar["is_latest_snapshot"].tolist() == [False, False, False, True]


def test_spine_matches_the_simulators_active_customers(built: BuiltWarehouse) -> None:
    """The ground truth is read by the test only, as an independent check of who was active when."""
    truth = pd.concat(
        pd.read_parquet(p) for p in sorted((built.root / "ground_truth" / "monthly").glob("*.parquet"))
    )
    truth["snapshot_date"] = pd.to_datetime(truth["snapshot_date"])
    spine = built.query("select customer_id, snapshot_date from int_customer_snapshots")
    spine["snapshot_date"] = pd.to_datetime(spine["snapshot_date"])
    for snapshot, ours in spine.groupby("snapshot_date"):
        expected = truth.loc[truth["snapshot_date"] == snapshot, "customer_id"]
        if expected.empty:  # the truth stops at the last simulated month
            continue
        assert set(ours["customer_id"]) == set(expected), snapshot


def test_labels_are_null_until_the_horizon_has_passed(built: BuiltWarehouse) -> None:
    labels = built.query(
        "select snapshot_date, count(*) as n, count(churned) as labelled, avg(churned::int) as rate "
        "from fct_churn_labels group by 1 order by 1"
    )
    latest = labels.iloc[-1]
    assert latest["labelled"] == 0, "the latest snapshot's 30-day horizon has not passed"
    mature = labels.iloc[:-1]
    assert (mature["labelled"] == mature["n"]).all()
    assert mature["rate"].between(0.005, 0.2).all()
    training = built.query("select max(snapshot_date) as last, count(*) as n from ml_training_set")
    assert pd.Timestamp(training["last"][0]) < pd.Timestamp(latest["snapshot_date"])
    assert training["n"][0] == mature["n"].sum()


def test_labels_agree_with_the_simulated_churn(built: BuiltWarehouse) -> None:
    truth = pd.concat(
        pd.read_parquet(p) for p in sorted((built.root / "ground_truth" / "monthly").glob("*.parquet"))
    )
    truth["snapshot_date"] = pd.to_datetime(truth["snapshot_date"])
    labels = built.query(
        "select customer_id, snapshot_date, churned from fct_churn_labels where churned is not null"
    )
    labels["snapshot_date"] = pd.to_datetime(labels["snapshot_date"])
    both = labels.merge(truth, on=["customer_id", "snapshot_date"], suffixes=("", "_truth"))
    assert len(both) == len(labels)
    # the simulator's month and the 30-day horizon differ only for a cancellation on a month's 31st day
    assert (both["churned"] == both["churned_truth"]).mean() > 0.99


def test_scoring_set_is_every_active_customer_at_the_latest_snapshot(built: BuiltWarehouse) -> None:
    scoring = built.query("select customer_id, snapshot_date from ml_scoring_set")
    spine = built.query(
        "select customer_id from int_customer_snapshots where is_latest_snapshot order by customer_id"
    )
    assert scoring["snapshot_date"].nunique() == 1
    assert sorted(scoring["customer_id"]) == spine["customer_id"].tolist()


def test_customer_value_and_contacts_come_from_the_marts_alone(built: BuiltWarehouse, tmp_path: Path) -> None:
    """Only dbt reads raw: with the raw schema gone, customer value still runs and dim_customers has the
    latest delivered email of every customer and the data's as-of date."""
    latest = built.query(
        "select customer_id, arg_max(email, updated_at) as email, max(_batch_date) as batch from raw.accounts "
        "group by 1 order by 1"
    )
    marts_only = tmp_path / "marts_only.duckdb"
    shutil.copy(built.warehouse, marts_only)
    with duckdb.connect(str(marts_only)) as con:
        con.execute("drop schema raw cascade")
        dim = con.execute("select customer_id, email, as_of_date from dim_customers order by 1").df()
    assert dim["email"].tolist() == latest["email"].tolist()
    assert set(pd.to_datetime(dim["as_of_date"])) == {pd.Timestamp("2025-07-01")}
    values = value_customers(
        marts_only, load_policy(PROJECT_ROOT / "churn_platform" / "policies" / "churn_policy.yaml")
    )
    assert len(values) == int((~built.query("select is_churned from dim_customers")["is_churned"]).sum())
