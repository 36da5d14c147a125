"""The whole graph on a small simulated company: landing -> raw -> marts -> models -> scores -> value.

Then the promotion gate both ways inside Dagster: a candidate that does not beat the champion leaves the
alias where it was (a warning; scoring goes on), and a first model below the floor stops everything downstream.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from churn_platform.definitions import defs
from churn_platform.settings import PROJECT_ROOT
from tests.conftest import make_company

POLICY = PROJECT_ROOT / "churn_platform" / "policies" / "churn_policy.yaml"


def _policy(tmp: Path, **promotion: float) -> Path:
    doc = yaml.safe_load(POLICY.read_text())
    doc["promotion"].update(promotion)
    path = tmp / f"policy-{len(list(tmp.glob('policy-*')))}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(root: Path, policy: Path, selection: str | dg.AssetSelection = "*") -> dg.ExecuteInProcessResult:
    """Load the code location as the UI would, with its settings pointed at ``root``, and run a selection."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CHURN_DATA_DIR", str(root))
        env.setenv("CHURN_POLICY_PATH", str(policy))
        loaded = defs()
    job = loaded.resolve_implicit_global_asset_job_def()
    keys = dg.AssetSelection.from_coercible(selection).resolve(loaded.resolve_asset_graph())
    return job.execute_in_process(asset_selection=list(keys), raise_on_error=False)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    make_company(root, customers=1500, months=8, seed=21)
    return root


def _one(root: Path, sql: str) -> object:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def test_whole_graph_materializes_and_scores_every_active_customer(company: Path, tmp_path: Path) -> None:
    result = _run(company, _policy(tmp_path))
    failures = [e.message for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    gate = [c for c in result.get_asset_check_evaluations() if c.check_name == "beats_champion"]
    assert gate[0].passed
    scored = _one(company, "select count(*) from ml.churn_scores")
    active = _one(company, "select count(*) from ml_scoring_set")
    assert scored == active
    assert scored > 500
    explained = _one(
        company, "select count(*) from ml.churn_scores where risk_tier <> 'low' and reason_1 is not null"
    )
    not_low = _one(company, "select count(*) from ml.churn_scores where risk_tier <> 'low'")
    assert explained == not_low
    # rank tiers (the default policy): the riskiest 15% get a tier above low, by recorded cut-offs
    assert abs(not_low / scored - 0.15) < 0.01
    assert _one(company, "select count(*) from ml.tier_cutoffs where customers > 0 and tier <> 'low'") == 3
    mismatched = _one(
        company,
        "select count(*) from ml.churn_scores s, (select max(cutoff) filter (where tier = 'critical') as c, "
        "max(cutoff) filter (where tier = 'medium') as m from ml.tier_cutoffs) t "
        "where (s.risk_tier = 'critical') <> (s.churn_probability >= t.c) "
        "or (s.risk_tier = 'low') <> (s.churn_probability < t.m)",
    )
    assert mismatched == 0
    meta = result.asset_materializations_for_node("churn_scores")[0].metadata
    assert meta["tier_method"].value == "rank"
    assert meta["tier_notes"].value == "every tier as the policy asks"
    assert _one(company, "select count(*) from ml.customer_value") == scored
    assert _one(company, "select count(distinct direction) from ml.risk_tier_changes") == 1  # all 'new'


def test_gate_keeps_the_champion_when_the_candidate_is_not_better(company: Path, tmp_path: Path) -> None:
    from ml.registry import get_alias
    from ml.tracking import configure

    before_run = _run(company, _policy(tmp_path), "churn_model_candidates*")
    assert before_run.success
    configure(f"sqlite:///{company / 'mlflow' / 'mlflow.db'}", company / "mlflow" / "artifacts")
    before = get_alias("churn_model")
    assert before is not None
    result = _run(company, _policy(tmp_path, margin=0.5), "churn_model_candidates*")
    gate = [c for c in result.get_asset_check_evaluations() if c.check_name == "beats_champion"]
    assert not gate[0].passed
    assert gate[0].severity == dg.AssetCheckSeverity.WARN
    after = get_alias("churn_model")
    assert after is not None
    assert after.version == before.version, "the alias did not move"
    assert result.asset_materializations_for_node("churn_scores"), "scoring goes on with the champion"


def test_a_first_model_below_the_floor_stops_downstream(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    make_company(root, customers=600, months=7, seed=8)
    result = _run(root, _policy(tmp_path, floor=0.99))
    gate = [c for c in result.get_asset_check_evaluations() if c.check_name == "beats_champion"]
    assert not gate[0].passed
    assert gate[0].severity == dg.AssetCheckSeverity.ERROR
    assert not result.asset_materializations_for_node("churn_scores")
    assert not result.asset_materializations_for_node("champion_model")


def test_the_eda_notebook_runs_on_the_published_marts(company: Path, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    published = company / "published"
    if not (published / "fct_customer_features.parquet").exists():
        assert _run(company, _policy(tmp_path)).success
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "eda_churn_marts.ipynb", as_version=4)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CHURN_PUBLISHED_DIR", str(published))
        # importing streamlit (the dashboard tests do) sets MPLBACKEND=Agg: the kernel would draw nothing inline
        env.delenv("MPLBACKEND", raising=False)
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "every section draws its plot"
    text = "".join(o.get("text", "") for o in outputs)
    assert "customer-months with a matured 30-day label" in text


def test_the_campaign_sensor_launches_sends_that_land_exactly_once(company: Path, tmp_path: Path) -> None:
    """A scoring run raises tiers -> the sensor asks for the campaign -> decisions, gate, outbox, ledger export."""
    from dagster import DagsterInstance

    before_campaign = dg.AssetSelection.all() - dg.AssetSelection.assets("retention_targets").downstream()
    assert _run(company, _policy(tmp_path), before_campaign).success
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CHURN_DATA_DIR", str(company))
        loaded = defs()
    sensor = loaded.resolve_sensor_def("campaign_sensor")
    with DagsterInstance.ephemeral() as instance:
        # the scoring run recorded in this instance is what the sensor reacts to
        job = loaded.resolve_implicit_global_asset_job_def()
        scoring = dg.AssetSelection.assets("risk_tier_changes").resolve(loaded.resolve_asset_graph())
        assert job.execute_in_process(instance=instance, asset_selection=list(scoring)).success
        context = dg.build_sensor_context(
            instance=instance, definitions=loaded, sensor_name="campaign_sensor"
        )
        requests = sensor.evaluate_tick(context).run_requests or []
    assert len(requests) == 1
    assert "moved up a risk tier" in requests[0].tags["churn/reason"]
    keys = dg.AssetSelection.assets("retention_targets", "campaign_sends", "send_ledger_export")
    result = job.execute_in_process(
        asset_selection=list(keys.resolve(loaded.resolve_asset_graph())), tags=requests[0].tags
    )
    assert result.success
    gate = [c for c in result.get_asset_check_evaluations() if c.check_name == "contact_rules_hold"]
    assert gate[0].passed
    sent = _one(
        company, "select count(*) from retention.send_ledger where channel = 'email' and status = 'sent'"
    )
    treated = _one(
        company, "select count(*) from retention.decisions where decision = 'treat' and channel = 'email'"
    )
    assert sent == treated
    assert sent > 0
    assert len(list((company / "outbox").glob("*.eml"))) == sent
    assert (company / "exports" / "send_ledger.parquet").exists()
    # launched again for the same scoring: nothing is decided or sent twice
    again = job.execute_in_process(asset_selection=list(keys.resolve(loaded.resolve_asset_graph())))
    assert again.success
    assert len(list((company / "outbox").glob("*.eml"))) == sent
