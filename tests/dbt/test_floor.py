"""The features benchmark's hand-written floor computes exactly what the marts hold (so the benchmark compares
like with like, and a model change that breaks it is caught here rather than at the next benchmark run)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from churn_platform.settings import PROJECT_ROOT
from tests.dbt.conftest import BuiltWarehouse

BENCHMARKS = PROJECT_ROOT / "benchmarks"


def test_the_benchmark_floor_matches_the_marts(built: BuiltWarehouse, tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("features_benchmark", BENCHMARKS / "features.py")
        assert spec is not None
        assert spec.loader is not None
        features = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(features)
    finally:
        sys.path.remove(str(BENCHMARKS))
    shutil.copy(built.warehouse, tmp_path / "warehouse.duckdb")
    features._floor(str(tmp_path))
    compared = features._compare(str(tmp_path))
    assert compared["rows"] > 1000
    assert compared.get("problems", []) == [], compared
