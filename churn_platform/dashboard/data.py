"""Loading the published snapshots, never the warehouse.

The pipeline holds the DuckDB file while it writes, so the dashboard reads only the Parquet and JSON files
that ``publish_dashboard`` replaces atomically. Reads are cached by file and modification time: a new
publication is picked up on the next rerun, and an unchanged one is not read again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from churn_platform.settings import get_settings

ENV_VAR = "CHURN_DASHBOARD_DIR"
HOW_TO_PUBLISH = (
    "Run `bash scripts/run.sh` (the demo publishes everything), or materialize the `dashboard_snapshot` "
    "asset in the Dagster UI."
)


def published_dir() -> Path:
    """``CHURN_DASHBOARD_DIR``, else the platform's ``published/dashboard`` folder."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else get_settings().published / "dashboard"


@st.cache_data(show_spinner=False, max_entries=32)
def _parquet(path: str, modified_ns: int) -> pd.DataFrame:
    return pd.read_parquet(path)


@st.cache_data(show_spinner=False, max_entries=32)
def _json(path: str, modified_ns: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(path).read_text())
    return loaded


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def load_table(name: str) -> pd.DataFrame | None:
    """A published table, or None when it has not been published."""
    path = published_dir() / f"{name}.parquet"
    stamp = _stamp(path)
    return None if stamp is None else _parquet(str(path), stamp)


def load_json(name: str) -> dict[str, Any] | None:
    path = published_dir() / f"{name}.json"
    stamp = _stamp(path)
    return None if stamp is None else _json(str(path), stamp)


def explain_missing(name: str, what: str) -> None:
    """Say why a page has nothing to show and how to get it, instead of failing."""
    manifest = load_json("manifest") or {}
    reason = (manifest.get("skipped") or {}).get(name)
    if reason:
        st.info(
            f"No {what} yet: {reason}. It appears after the pipeline has produced it and published again."
        )
    else:
        st.info(
            f"No {what} published yet (`{name}` is missing in `{published_dir()}`). {HOW_TO_PUBLISH}",
            icon=":material/info:",
        )


def table_or_explain(name: str, what: str) -> pd.DataFrame | None:
    frame = load_table(name)
    if frame is None:
        explain_missing(name, what)
    return frame


def publication_caption() -> None:
    """When the data was published, so a reader knows how fresh it is."""
    manifest = load_json("manifest")
    if manifest and manifest.get("published_at"):
        published = dt.datetime.fromisoformat(str(manifest["published_at"]))
        st.caption(f"Published {published:%Y-%m-%d %H:%M} UTC from `{published_dir()}`")
