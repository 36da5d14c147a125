"""Quarantine and rejection messages keep no personal data: no whole raw row, no name, no email."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from churn_platform.lib.ingest import ingest_landing, ingest_source
from tests.conftest import make_company


def test_quarantined_rows_keep_no_personal_column_and_rejections_quote_no_row(tmp_path: Path) -> None:
    root = tmp_path / "co"
    make_company(root, customers=120, months=3, seed=4, file_format="csv")
    warehouse = root / "warehouse.duckdb"
    ingest_landing(root / "landing", warehouse)
    accounts = pd.concat(pd.read_csv(p, dtype=str) for p in (root / "landing" / "accounts").rglob("*.csv"))
    bad = accounts.head(2).copy()
    bad["email"] = ["not-an-email-jane.doe@private", "x"]
    bad["signup_date"] = ["yesterday", "2025-13-45"]  # does not cast: the row is quarantined
    folder = root / "landing" / "accounts" / "2025-06-01"
    folder.mkdir()
    bad.to_csv(folder / "accounts_2025-06-01_part0000.csv", index=False)
    broken = root / "landing" / "accounts" / "2025-06-02"
    broken.mkdir()
    header = ",".join(accounts.columns)
    (broken / "accounts_2025-06-02_part0000.csv").write_text(
        f"{header}\nC99999999,Jane Secret,jane.secret@private.example,extra,cells,beyond,the,header,a,b,c,d,e,f,g\n"
    )
    report = ingest_source(warehouse, root / "landing", "accounts")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("select column_name, value, record from raw._quarantine").fetchall()
        reasons = [r for (r,) in con.execute("select reason from raw._rejected_files").fetchall()]
    finally:
        con.close()
    assert len(rows) >= 2
    for _column, value, record in rows:
        kept = json.loads(record)
        assert "name" not in kept
        assert "email" not in kept
        assert "account_manager" not in kept
        assert kept["customer_id"] in set(bad["customer_id"]), "the record still says which row it was"
        assert "jane.doe" not in str(value)
    names = set(bad["name"])
    assert not any(n in json.dumps(rows) for n in names)
    assert len(reasons) == 1
    assert "malformed CSV" in reasons[0]
    assert "Jane Secret" not in reasons[0]
    assert "jane.secret" not in reasons[0]
    assert [f.reason for f in report.rejected] == reasons
