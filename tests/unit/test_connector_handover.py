"""The connector's hand-over: extracted files become landing batches exactly once, even across a crash."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn_platform.contract import contract_for
from churn_platform.lib.connectors import DATASET, Places, hand_over
from churn_platform.profile import CompanyProfile, load_profile

TODAY = dt.date(2025, 7, 1)


@pytest.fixture
def profile(tmp_path: Path) -> CompanyProfile:
    text = (Path(__file__).parents[2] / "churn_platform" / "profiles" / "saas.yaml").read_text()
    text += """
connectors:
  database:
    tables:
      - table: customers
        source: accounts
        mapping: {columns: {customer_id: id}}
"""
    (tmp_path / "company.yaml").write_text(text)
    return load_profile(tmp_path / "company.yaml")


def _extracted(places: Places, name: str, ids: list[str]) -> Path:
    folder = places.extracted / DATASET / "accounts"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(ids)
    table = pa.table(
        {
            "id": ids,
            "name": ["x"] * n,
            "plan": ["basic"] * n,
            "password_hash": ["secret"] * n,
            "updated_at": pa.array(
                [dt.datetime(2025, 6, 1, tzinfo=dt.UTC)] * n, pa.timestamp("us", tz="UTC")
            ),
            "_dlt_id": ["d"] * n,
        }
    )
    path = folder / name
    pq.write_table(table, path)
    return path


def test_extracted_files_land_as_numbered_parts_with_contract_columns(
    tmp_path: Path, profile: CompanyProfile
) -> None:
    places, landing = Places(tmp_path / "state"), tmp_path / "landing"
    batch = landing / "accounts" / TODAY.isoformat()
    batch.mkdir(parents=True)
    (batch / "accounts_2025-07-01_part0003.csv").write_text("delivered by hand\n")
    first = _extracted(places, "1700000001.a.parquet", ["C1", "C2"])
    _extracted(places, "1700000002.b.parquet", ["C3"])
    database = profile.connectors.database
    assert database is not None
    report = hand_over(places, landing, database, contract_for(profile), TODAY)
    assert report.tables["accounts"].rows == 3
    assert sorted(p.name for p in batch.glob("*.parquet")) == [
        "accounts_2025-07-01_part0004.parquet",
        "accounts_2025-07-01_part0005.parquet",
    ]
    landed = pq.read_table(batch / "accounts_2025-07-01_part0004.parquet")
    assert landed.column_names == ["customer_id", "name", "plan", "updated_at"]
    assert landed.column("customer_id").to_pylist() == ["C1", "C2"]
    assert not first.exists()
    assert json.loads(places.manifest.read_text()) == {}
    # nothing left: a second hand-over lands nothing
    assert hand_over(places, landing, database, contract_for(profile), TODAY).rows == 0


def test_a_crash_between_landing_and_removing_lands_nothing_twice(
    tmp_path: Path, profile: CompanyProfile
) -> None:
    places, landing = Places(tmp_path / "state"), tmp_path / "landing"
    database = profile.connectors.database
    assert database is not None
    done = _extracted(places, "1700000001.a.parquet", ["C1"])
    pending = _extracted(places, "1700000002.b.parquet", ["C2"])
    batch = landing / "accounts" / TODAY.isoformat()
    batch.mkdir(parents=True)
    already = batch / "accounts_2025-07-01_part0000.parquet"
    already.write_bytes(b"landed before the crash")
    promised = batch / "accounts_2025-07-01_part0001.parquet"
    places.root.mkdir(parents=True, exist_ok=True)
    places.manifest.write_text(json.dumps({str(done): str(already), str(pending): str(promised)}))
    report = hand_over(places, landing, database, contract_for(profile), TODAY)
    assert already.read_bytes() == b"landed before the crash"  # not written again
    assert pq.read_table(promised).column("customer_id").to_pylist() == ["C2"]  # the name it was promised
    assert report.tables["accounts"].files == [str(promised)]
    assert sorted(p.name for p in batch.iterdir()) == [already.name, promised.name]
    assert not done.exists()
    assert not pending.exists()
