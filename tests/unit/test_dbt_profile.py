"""dbt's generated files follow the company profile and the contract."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from churn_platform.contract import contract_for
from churn_platform.lib.dbt_profile import (
    DBT_PROJECT_DIR,
    GeneratedFileError,
    generated_files,
    main,
    render_dbt_project,
    render_sources,
    render_vars_block,
    stale_files,
)
from churn_platform.lib.ingest import META_COLUMNS
from churn_platform.profile import load_profile


def test_committed_files_are_the_generators_output_for_saas() -> None:
    assert stale_files(load_profile("saas")) == [], "run: python -m churn_platform.lib.dbt_profile"


def test_dbt_project_vars_are_the_saas_profiles() -> None:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    saas = load_profile("saas").dbt_vars()
    assert {k: project["vars"][k] for k in saas} == saas
    assert project["vars"]["churn_horizon_days"] == 30  # the hand-written vars stay


@pytest.mark.parametrize("name", ["saas", "social"])
def test_vars_block_reads_back_as_the_profiles_dbt_vars(name: str) -> None:
    profile = load_profile(name)
    block = render_vars_block(profile)
    assert yaml.safe_load("vars:\n" + block)["vars"] == profile.dbt_vars()


def test_sources_list_every_raw_table_and_column_of_the_contract() -> None:
    contract = contract_for(load_profile("social"))
    doc = yaml.safe_load(render_sources(contract))
    tables = {t["name"]: t for t in doc["sources"][0]["tables"]}
    assert list(tables) == list(contract.sources)
    for name, source in contract.sources.items():
        columns = [c["name"] for c in tables[name]["columns"]]
        assert columns == [*source.column_names, *META_COLUMNS], name
        assert tables[name]["meta"]["delivered"] is source.delivered
    assert "date_of_birth" in [c["name"] for c in tables["accounts"]["columns"]]
    assert "Not delivered by this company" in tables["nps_responses"]["description"]
    event_id = next(c for c in tables["usage_events"]["columns"] if c["name"] == "event_id")
    assert event_id["data_type"] == "varchar"


def test_a_project_file_without_markers_is_named(tmp_path: Path) -> None:
    path = tmp_path / "dbt_project.yml"
    with pytest.raises(GeneratedFileError, match=str(path)):
        render_dbt_project("vars:\n  a: 1\n", load_profile("saas"), path)


def test_the_command_rewrites_stale_files_and_check_reports_them(tmp_path: Path) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    social = load_profile("social")
    assert sorted(stale_files(social, project)) == sorted(generated_files(social, project))
    args = ["--profile", "social", "--project-dir", str(project)]
    assert main([*args, "--check"]) == 1
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    assert yaml.safe_load((project / "dbt_project.yml").read_text())["vars"]["company_profile"] == "social"
    assert main(["--project-dir", str(project), "--check"]) == 1  # the saas default now differs
