"""Files shaped like real exports: every fault of the kind a company's systems produce, with the right value.

One test per row of the table in the ingestion issue (BOMs, offsets, time zones, integers that are not, non-finite
decimals, multi-line quoted CSV, duplicate headers, names that bend the layout, year typos, fifos, the cut day,
European CSV, and the bring-your-own-table benchmark).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from churn_platform.cli import app
from churn_platform.lib.ingest import ingest_landing, ingest_source
from churn_platform.lib.landing import scan
from churn_platform.lib.quality import SuiteRunner
from ml.benchmark import check_folds, load_customer_table

ACCOUNT_HEADER = (
    "customer_id,name,email,country,segment,plan,signup_date,acquisition_channel,marketing_consent,"
    "unsubscribed,updated_at"
)


def _account(cid: str, updated: str = "2025-06-01 10:00:00") -> str:
    return f"{cid},Acme,a{cid}@example.com,US,smb,basic,2025-01-05,organic,true,false,{updated}"


def _put(landing: Path, source: str, batch: str, text: str | bytes, name: str | None = None) -> Path:
    path = landing / source / batch / (name or f"{source}_{batch}_part0000.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _accounts(landing: Path, ids: list[str], batch: str = "2025-07-01") -> Path:
    return _put(landing, "accounts", batch, "\n".join([ACCOUNT_HEADER, *(_account(i) for i in ids)]) + "\n")


def _q(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_a_byte_order_mark_is_ignored_and_ids_keep_their_leading_zeros(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    text = "\n".join([ACCOUNT_HEADER, _account("00000901"), _account("000123")]) + "\n"
    _put(landing, "accounts", "2025-07-01", b"\xef\xbb\xbf" + text.encode())
    _put(
        landing,
        "subscriptions",
        "2025-07-01",
        "subscription_id,customer_id,plan,mrr,change_type,start_date,end_date,cancel_date,updated_at\n"
        "S1,00000901,basic,49,new,2025-01-05,,,2025-06-01 10:00:00\n"
        "S2,000123,basic,49,new,2025-01-05,,,2025-06-01 10:00:00\n",
    )
    reports = ingest_landing(landing, wh)
    assert reports["accounts"].quarantined_rows == 0
    assert reports["subscriptions"].quarantined_rows == 0, reports["subscriptions"].rule_counts()
    assert sorted(_q(wh, "select customer_id from raw.accounts")["customer_id"]) == ["00000901", "000123"]
    assert sorted(_q(wh, "select customer_id from raw.subscriptions")["customer_id"]) == [
        "00000901",
        "000123",
    ]


def _events(landing: Path, batch: str, rows: list[str], header: str = "") -> Path:
    head = header or "event_id,customer_id,event_ts,event_type,duration_seconds"
    return _put(landing, "usage_events", batch, "\n".join([head, *rows]) + "\n")


def test_timestamps_with_offsets_are_stored_in_utc(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"], "2025-09-01")
    _events(
        landing,
        "2025-09-01",
        [
            "E1,C1,2025-06-30T23:30:00-05:00,login,",
            "E2,C1,2025-09-01T08:00:00+09:00,login,",
            "E3,C1,1751300000,login,",
        ],
    )
    report = ingest_landing(landing, wh)["usage_events"]
    assert report.quarantined_rows == 0, report.rule_counts()
    got = _q(wh, "select event_id, event_ts from raw.usage_events order by event_id")
    assert got["event_ts"].tolist() == [
        pd.Timestamp("2025-07-01 04:30:00"),
        pd.Timestamp("2025-08-31 23:00:00"),
        pd.Timestamp(dt.datetime.fromtimestamp(1751300000, dt.UTC).replace(tzinfo=None)),  # epoch seconds
    ]


def test_tz_aware_parquet_is_the_same_instant_on_a_machine_in_another_time_zone(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"], "2025-09-01")
    instants = pd.to_datetime(["2025-08-31 20:30:00", "2025-09-01 20:30:00"]).tz_localize("America/New_York")
    table = pa.table(
        {
            "event_id": ["E1", "E2"],
            "customer_id": ["C1", "C1"],
            "event_ts": pa.array(instants, type=pa.timestamp("us", tz="America/New_York")),
            "event_type": ["login", "login"],
        }
    )
    path = landing / "usage_events" / "2025-09-01" / "usage_events_2025-09-01_part0000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from churn_platform.lib.ingest import ingest_landing
        r = ingest_landing(Path({str(landing)!r}), Path({str(wh)!r}))
        print(r["usage_events"].quarantined_rows, r["usage_events"].loaded_rows)
        """
    )
    env = {**os.environ, "TZ": "Asia/Tokyo"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"], out.stdout + out.stderr  # 09-01 20:30 EDT is 09-02 00:30 UTC
    got = _q(wh, "select event_ts from raw.usage_events")["event_ts"].tolist()
    assert got == [pd.Timestamp("2025-09-01 00:30:00")]
    rule = _q(wh, "select rule from raw._quarantine")["rule"].tolist()
    assert rule == ["event_ts: not after the batch date"]


def test_numbers_that_are_not_integers_are_quarantined_never_rounded(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"])
    _put(
        landing,
        "nps_responses",
        "2025-07-01",
        "response_id,customer_id,responded_at,score\nN1,C1,2025-06-01,6.5\nN2,C1,2025-06-02,8.6\nN3,C1,2025-06-03,9\n",
    )
    _events(
        landing,
        "2025-07-01",
        ["37467,C1,2025-06-01 10:00:00,session,60", "37467.5,C1,2025-06-01 11:00:00,session,120.7"],
    )
    ingest_landing(landing, wh)
    q = _q(wh, "select source, row_number, rule, value from raw._quarantine order by source, row_number")
    assert q[q["source"] == "nps_responses"]["rule"].tolist() == ["score: not a valid integer"] * 2
    assert q[q["source"] == "nps_responses"]["value"].tolist() == ["6.5", "8.6"]
    assert q[q["source"] == "usage_events"]["rule"].tolist() == ["duration_seconds: not a valid integer"]
    assert _q(wh, "select score from raw.nps_responses")["score"].tolist() == [9]
    # event ids are text: 37467.5 is kept as written and never collides with 37467
    assert sorted(_q(wh, "select event_id from raw.usage_events")["event_id"]) == ["37467"]
    # and in Parquet, a float column where the contract says integer
    table = pa.table({"response_id": ["N4", "N5"], "customer_id": ["C1", "C1"],
                      "responded_at": [dt.date(2025, 6, 4)] * 2, "score": [7.0, 6.5]})  # fmt: skip
    path = landing / "nps_responses" / "2025-07-01" / "nps_responses_2025-07-01_part0001.parquet"
    pq.write_table(table, path)
    report = ingest_source(wh, landing, "nps_responses", SuiteRunner())
    assert report.loaded_rows == 1
    assert report.rule_counts() == {"score: not a valid integer": 1}


def test_infinity_and_nan_are_not_finite_decimals(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"])
    _put(
        landing,
        "subscriptions",
        "2025-07-01",
        "subscription_id,customer_id,plan,mrr,change_type,start_date,end_date,cancel_date,updated_at\n"
        "S1,C1,basic,Infinity,new,2025-01-05,,,2025-06-01 10:00:00\n"
        "S2,C1,basic,NaN,new,2025-02-05,,,2025-06-01 10:00:00\n"
        "S3,C1,basic,49.5,new,2025-03-05,,,2025-06-01 10:00:00\n"
        "S4,C1,basic,-inf,new,2025-03-05,,,2025-06-01 10:00:00\n",
    )
    report = ingest_landing(landing, wh)["subscriptions"]
    assert report.loaded_rows == 1
    assert report.rule_counts() == {"mrr: not a finite decimal": 3}


def test_a_large_csv_with_comments_over_two_quoted_lines_loads_every_row(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"])
    lines = ["response_id,customer_id,responded_at,score,comment"]
    lines += [
        f'N{i},C1,2025-06-01,{i % 11},"Line one, with a comma\nand line ""two"""' for i in range(30_000)
    ]
    _put(landing, "nps_responses", "2025-07-01", "\n".join(lines) + "\n")
    report = ingest_landing(landing, wh)["nps_responses"]
    assert not report.rejected
    assert report.loaded_rows == 30_000
    comment = _q(wh, "select comment from raw.nps_responses where response_id = 'N29999'")["comment"].iloc[0]
    assert comment == 'Line one, with a comma\nand line "two"'


def test_a_header_naming_a_column_twice_is_rejected_and_later_files_still_load(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"])
    bad = _put(
        landing,
        "nps_responses",
        "2025-07-01",
        "response_id,customer_id,responded_at,score,score\nN1,C1,2025-06-01,3,4\n",
    )
    _put(
        landing,
        "nps_responses",
        "2025-08-01",
        "response_id,customer_id,responded_at,score\nN2,C1,2025-07-01,5\n",
    )
    report = ingest_landing(landing, wh)["nps_responses"]
    assert [f.status for f in report.files] == ["rejected", "loaded"]
    assert str(bad) in report.rejected[0].reason
    assert "column 'score' appears twice" in report.rejected[0].reason
    assert _q(wh, "select count(*) n from raw._rejected_files")["n"].iloc[0] == 1


def test_names_that_bend_the_layout_load_when_unambiguous_and_are_listed_otherwise(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    text = "\n".join([ACCOUNT_HEADER, _account("C1")]) + "\n"
    upper = _put(landing, "accounts", "2025-07-01", text, name="Accounts_2025-07-01_part0001.CSV")
    loose = landing / "accounts" / "accounts_2025-08-01_part0000.csv"
    loose.write_text(text.replace("C1,", "C2,"))
    singular = _put(landing, "account", "2025-07-01", text)
    bad_date = _put(landing, "accounts", "2025-06-31", text)
    found = scan(landing, today=dt.date(2026, 1, 1))
    assert [(f.path, f.batch_date) for f in found.files] == [
        (upper, dt.date(2025, 7, 1)),
        (loose, dt.date(2025, 8, 1)),
    ]
    why = {n.path: n.reason for n in found.not_understood}
    assert why[singular.parent.parent] == "not a source folder of the contract: did you mean accounts?"
    assert why[bad_date.parent] == "batch folder not a calendar date"
    report = ingest_source(tmp_path / "wh.duckdb", landing, "accounts", SuiteRunner())
    assert report.loaded_rows == 2


def test_the_not_understood_entries_reach_the_runs_metadata_and_a_table(tmp_path: Path) -> None:
    import dagster as dg

    from churn_platform.defs.ingest.landing import landing_files
    from churn_platform.defs.resources import LandingResource, WarehouseResource

    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"])
    _put(landing, "account", "2025-07-01", "x\n")
    result = dg.materialize(
        [landing_files],
        resources={
            "landing": LandingResource(path=str(landing)),
            "warehouse": WarehouseResource(path=str(wh)),
        },
    )
    meta = result.asset_materializations_for_node("landing_files")[0].metadata
    assert meta["not_understood"].value == 1
    assert "did you mean accounts?" in str(meta["not_understood_entries"].value)
    assert _q(wh, "select problem from raw._landing_issues")["problem"].str.contains("did you mean").all()


def test_a_year_typo_in_a_name_is_rejected_not_loaded(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    text = "\n".join([ACCOUNT_HEADER, _account("C1")]) + "\n"
    typo = _put(landing, "accounts", "2025-07-01", text, name="accounts_2052-07-01_part0001.csv")
    future = _put(landing, "accounts", "2052-07-01", text)
    report = ingest_source(wh, landing, "accounts", SuiteRunner())
    reasons = {Path(f.path).name: f.reason for f in report.rejected}
    assert "disagrees with its batch folder (2025-07-01)" in reasons[typo.name]
    assert "lies in the future" in reasons[future.name]
    assert report.loaded_rows == 0
    assert _q(wh, "select count(*) n from raw.accounts")["n"].iloc[0] == 0


@pytest.mark.timeout(60)
def test_a_fifo_or_a_device_in_the_landing_folder_is_refused_without_hanging(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"])
    batch = landing / "nps_responses" / "2025-07-01"
    batch.mkdir(parents=True)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (batch / "nps_responses_2025-07-01_part0000.csv").symlink_to(fifo)
    (batch / "nps_responses_2025-07-01_part0001.csv").symlink_to("/dev/zero")
    found = scan(landing)
    reasons = sorted(n.reason for n in found.not_understood)
    assert reasons == [
        "is a device (through a symlink): only regular files are read",
        "is a fifo (through a symlink): only regular files are read",
    ]
    assert ingest_landing(landing, wh)["accounts"].loaded_rows == 1


def test_a_change_made_during_the_batch_day_belongs_to_the_batch(tmp_path: Path) -> None:
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    text = "\n".join(
        [ACCOUNT_HEADER, _account("C1", "2025-07-01 12:00:00"), _account("C2", "2025-07-02 00:00:00")]
    )
    _put(landing, "accounts", "2025-07-01", text + "\n")
    report = ingest_source(wh, landing, "accounts", SuiteRunner())
    assert report.loaded_rows == 1
    assert report.rule_counts() == {"updated_at: not after the batch date": 1}


def test_a_semicolon_file_with_decimal_commas_reads_amounts_as_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = (Path(__file__).parents[2] / "churn_platform" / "profiles" / "saas.yaml").read_text()
    profile = profile.replace(
        "attributes: []",
        'attributes: []\nfiles:\n  per_source:\n    invoices: {delimiter: ";", decimal_mark: ","}',
    )
    (tmp_path / "company.yaml").write_text(profile)
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", str(tmp_path / "company.yaml"))
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"])
    _put(
        landing,
        "invoices",
        "2025-07-01",
        "invoice_id;customer_id;subscription_id;issued_date;due_date;amount;paid_date;status;failed_attempts;updated_at\n"
        'I1;C1;S1;2025-06-01;2025-06-15;"74,92";;open;0;2025-06-01 10:00:00\n'
        'I2;C1;S1;2025-06-01;2025-06-15;"1.234,50";;open;0;2025-06-01 10:00:00\n',
    )
    report = ingest_landing(landing, wh)["invoices"]
    assert report.quarantined_rows == 0, report.rule_counts()
    assert _q(wh, "select amount from raw.invoices order by invoice_id")["amount"].tolist() == [74.92, 1234.5]


def _benchmark_csv(
    path: Path, rows: int, churners: int, sep: str = ",", decimal: str = ".", blank: int = 0
) -> Path:
    rng = np.random.default_rng(3)
    labels = ["Yes"] * churners + ["No"] * (rows - churners - blank) + [""] * blank
    charges = rng.uniform(10, 120, rows).round(2)
    frame = pd.DataFrame(
        {
            "id": [f"K{i}" for i in range(rows)],
            "plan": rng.choice(["a", "b"], rows),
            "charges": [f"{c:.2f}".replace(".", decimal) for c in charges],
            "Churn": labels,
        }
    )
    frame.to_csv(path, index=False, sep=sep)
    return path


def test_benchmark_detects_a_european_csv_and_says_so(tmp_path: Path) -> None:
    path = _benchmark_csv(tmp_path / "eu.csv", 300, 60, sep=";", decimal=",")
    table = load_customer_table(path, "Churn", "Yes", "id")
    assert pd.api.types.is_float_dtype(table.frame["charges"])
    assert "charges" in table.spec.numeric
    assert any("';' as the delimiter" in n for n in table.notes)
    assert any("',' as the decimal mark" in n for n in table.notes)
    forced = load_customer_table(path, "Churn", "Yes", "id", sep=";", decimal=",")
    assert forced.notes == ()
    assert np.allclose(forced.frame["charges"], table.frame["charges"])


def test_benchmark_leaves_blank_labels_out_with_a_count(tmp_path: Path) -> None:
    path = _benchmark_csv(tmp_path / "blank.csv", 400, 80, blank=54)
    table = load_customer_table(path, "Churn", "Yes", "id")
    assert len(table.y) == 346
    assert int(table.y.sum()) == 80
    assert any(n.startswith("54 rows with a blank 'Churn' left out") for n in table.notes)


def test_benchmark_with_too_few_churners_for_the_folds_says_so_in_one_line(tmp_path: Path) -> None:
    path = _benchmark_csv(tmp_path / "tiny.csv", 120, 2)
    with pytest.raises(ValueError, match=r"too few churners for 5 folds: 2 of 120 rows"):
        check_folds(load_customer_table(path, "Churn", "Yes", "id").y, 5)
    result = CliRunner().invoke(
        app,
        [
            "benchmark",
            "--csv",
            str(path),
            "--target",
            "Churn",
            "--positive",
            "Yes",
            "--id",
            "id",
            "--no-mlflow",
        ],
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) <= 3, result.output
    assert "too few churners for 5 folds" in result.output
