"""The code location loads, and its asset graph changes only on purpose."""

from __future__ import annotations

import os

import dagster as dg

from churn_platform.definitions import defs
from churn_platform.lib.graph import asset_graph_snapshot
from churn_platform.settings import PROJECT_ROOT

SNAPSHOT = PROJECT_ROOT / "tests" / "snapshots" / "asset_graph.txt"


def test_definitions_load() -> None:
    loaded = defs()
    assert isinstance(loaded, dg.Definitions)
    loaded.resolve_all_job_defs()
    assert loaded.resolve_asset_graph().get_all_asset_keys()
    assert {"warehouse", "landing"} <= set(loaded.resources or {})


def test_asset_graph_matches_snapshot() -> None:
    current = asset_graph_snapshot(defs())
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text(), "asset graph changed: review, then run with UPDATE_SNAPSHOTS=1"
