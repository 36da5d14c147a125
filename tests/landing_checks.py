"""Checks that a simulated landing folder is exactly a company's data contract (shared by simulator tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from churn_platform.contract import Contract
from churn_platform.lib.landing import LandingFile, discover


def assert_landing_conforms(landing: Path, contract: Contract) -> list[LandingFile]:
    """Every file's schema is the contract's, keys are unique, values are allowed, in range, not future, and
    every customer is known to accounts by then; only the sources the company delivers are there."""
    files = discover(landing)
    assert {f.source for f in files} == set(contract.delivered), "exactly the delivered sources"
    assert {p.name for p in landing.iterdir()} == set(contract.delivered)
    known: set[str] = set()
    for f in sorted(files, key=lambda f: (f.batch_date, f.source != "accounts")):
        source = contract.sources[f.source]
        table = pq.read_table(f.path)
        assert table.schema.equals(source.arrow_schema()), f.path
        df = table.to_pandas()
        assert df[source.primary_key].is_unique, f"duplicate keys in {f.path}"
        for col in source.columns:
            values = df[col.name]
            if not col.nullable:
                assert values.notna().all(), f"{f.path}:{col.name} has nulls"
            present = values.dropna()
            if col.allowed:
                assert set(present.unique()) <= set(col.allowed), f"{f.path}:{col.name}"
            if col.minimum is not None:
                assert (present >= col.minimum).all(), f"{f.path}:{col.name}"
            if col.maximum is not None:
                assert (present <= col.maximum).all(), f"{f.path}:{col.name}"
            if col.not_future:
                assert (pd.to_datetime(present) <= pd.Timestamp(f.batch_date)).all(), f"{f.path}:{col.name}"
        if f.source == "accounts":
            known |= set(df["customer_id"])
        else:
            assert set(df["customer_id"]) <= known, f"unknown customers in {f.path}"
    return files
