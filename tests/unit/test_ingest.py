"""The bad-file corpus: each bad delivery meets a clear error or a quarantine, and loses nothing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from churn_platform.lib.ingest import ingest_landing, ingest_source
from churn_platform.lib.quality import SuiteRunner
from tests.conftest import make_company

BAD_BATCH = "2025-04-01"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny company delivered as CSV (3 monthly batches), fully ingested once."""
    root = tmp_path_factory.mktemp("base")
    make_company(root, customers=150, months=3, seed=3, file_format="csv")
    reports = ingest_landing(root / "landing", root / "warehouse.duckdb")
    assert all(not r.rejected and r.quarantined_rows == 0 for r in reports.values())
    return root


@pytest.fixture
def env(base: Path, tmp_path: Path) -> Path:
    shutil.copytree(base, tmp_path / "w")
    return tmp_path / "w"


@pytest.fixture(scope="module")
def runner() -> SuiteRunner:
    return SuiteRunner()


def _snapshot(warehouse: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for table in (
            "accounts",
            "subscriptions",
            "invoices",
            "usage_events",
            "support_tickets",
            "nps_responses",
        ):
            n, digest = con.execute(
                f"select count(*), coalesce(sum(hash(t))::varchar, '') "
                f"from (select * exclude (_ingested_at) from raw.{table}) t"
            ).fetchall()[0]
            out[table] = (n, digest)
        return out
    finally:
        con.close()


def _good_csv(env: Path, source: str) -> pd.DataFrame:
    path = next((env / "landing" / source / "2025-03-01").glob("*.csv"))
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _deliver(env: Path, source: str, writer: Callable[[Path], None], suffix: str = "csv") -> Path:
    path = env / "landing" / source / BAD_BATCH / f"{source}_{BAD_BATCH}_part0000.{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(path)
    return path


def _frame_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda p: frame.to_csv(p, index=False)


def _quarantine(env: Path) -> pd.DataFrame:
    con = duckdb.connect(str(env / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("select * from raw._quarantine").df()
    finally:
        con.close()


def _ingest(env: Path, source: str, runner: SuiteRunner):  # type: ignore[no-untyped-def]
    return ingest_source(env / "warehouse.duckdb", env / "landing", source, runner)


# -- file-level failures: the whole file is rejected with a message naming it ------------------------------


@pytest.mark.parametrize(
    ("case", "source", "make", "message"),
    [
        (
            "missing column",
            "accounts",
            lambda env: _frame_writer(_good_csv(env, "accounts").drop(columns=["email"])),
            "missing required column(s) email",
        ),
        ("empty file", "usage_events", lambda env: lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
        (
            "non-UTF-8 bytes",
            "nps_responses",
            lambda env: (
                lambda p: p.write_bytes(
                    _good_csv(env, "nps_responses")
                    .head(5)
                    .to_csv(index=False)
                    .encode()
                    .replace(b"N0", b"N\xff0", 1)
                )
            ),
            "not valid UTF-8 (byte 0xff",
        ),
    ],
)
def test_file_level_failures_reject_the_file_and_keep_everything_else(
    env: Path, runner: SuiteRunner, case: str, source: str, make: Callable, message: str
) -> None:
    before = _snapshot(env / "warehouse.duckdb")
    path = _deliver(env, source, make(env))
    report = _ingest(env, source, runner)
    assert [f.status for f in report.files if f.path.endswith(path.name)] == ["rejected"], case
    reason = report.rejected[0].reason
    assert str(path) in reason, "the message names the file"
    assert message in reason, reason
    assert _snapshot(env / "warehouse.duckdb") == before, "nothing already loaded changed"


def test_a_header_only_file_means_no_rows(env: Path, runner: SuiteRunner) -> None:
    before = _snapshot(env / "warehouse.duckdb")
    header = ",".join(_good_csv(env, "support_tickets").columns) + "\n"
    path = _deliver(env, "support_tickets", lambda p: p.write_text(header))
    report = _ingest(env, "support_tickets", runner)
    new = next(f for f in report.files if f.path.endswith(path.name))
    assert (new.status, new.rows, new.loaded, new.quarantined) == ("loaded", 0, 0, 0)
    assert "no rows" in new.reason
    assert _snapshot(env / "warehouse.duckdb") == before
    assert all(f.status == "skipped" for f in _ingest(env, "support_tickets", runner).files), "recorded once"


def test_truncated_parquet_is_rejected(tmp_path: Path, runner: SuiteRunner) -> None:
    make_company(tmp_path, customers=60, months=1, seed=9)
    victim = next((tmp_path / "landing" / "usage_events").rglob("*.parquet"))
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    reports = ingest_landing(tmp_path / "landing", tmp_path / "wh.duckdb")
    rejected = reports["usage_events"].rejected
    assert len(rejected) == 1
    assert "unreadable or truncated Parquet file" in rejected[0].reason
    assert str(victim) in rejected[0].reason
    assert reports["accounts"].loaded_rows > 0, "other sources still load"


def test_a_fixed_redelivery_loads_on_the_next_run(env: Path, runner: SuiteRunner) -> None:
    frame = _good_csv(env, "subscriptions")
    path = _deliver(env, "subscriptions", _frame_writer(frame.drop(columns=["mrr"])))
    assert _ingest(env, "subscriptions", runner).rejected
    frame.to_csv(path, index=False)  # the fixed file, re-delivered under the same name
    report = _ingest(env, "subscriptions", runner)
    assert not report.rejected
    assert report.loaded_rows == len(frame)


# -- row-level failures: bad rows quarantined with rule, file and row; the rest loads ----------------------


def _corrupt(frame: pd.DataFrame, row: int, column: str, value: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    ("case", "source", "column", "value", "rule"),
    [
        ("wrong type", "invoices", "amount", "twelve", "amount: not a valid decimal"),
        ("negative amount", "invoices", "amount", "-10.5", "amount: be between [0, inf]"),
        (
            "future timestamp",
            "usage_events",
            "event_ts",
            "2031-01-01 10:00:00",
            "event_ts: not after the batch date",
        ),
        (
            "unknown customer",
            "support_tickets",
            "customer_id",
            "C99999999",
            "customer_id: unknown to accounts",
        ),
        ("value not allowed", "accounts", "segment", "galactic", "segment: be in set"),
        ("missing required value", "nps_responses", "score", "", "score: not be null"),
    ],
)
def test_row_level_failures_are_quarantined_and_the_rest_loads(
    env: Path, runner: SuiteRunner, case: str, source: str, column: str, value: str, rule: str
) -> None:
    good = _good_csv(env, source)
    row_index = 2
    path = _deliver(env, source, _frame_writer(_corrupt(good, row_index, column, value)))
    before = _snapshot(env / "warehouse.duckdb")
    report = _ingest(env, source, runner)
    new = next(f for f in report.files if f.path.endswith(path.name))
    assert new.status == "loaded", case
    assert new.quarantined == 1
    assert new.loaded == len(good) - 1
    q = _quarantine(env)
    assert len(q) == 1
    hit = q.iloc[0]
    assert hit["row_number"] == row_index + 1  # 1-based data row (line row+2 of the CSV)
    assert hit["rule"].startswith(rule), hit["rule"]
    assert hit["column_name"] == column
    assert hit["file_name"] == f"{source}/{BAD_BATCH}/{path.name}"
    after = _snapshot(env / "warehouse.duckdb")
    assert after[source][0] == before[source][0] + len(good) - 1
    assert {k: v for k, v in after.items() if k != source} == {k: v for k, v in before.items() if k != source}


def test_duplicate_keys_quarantine_every_copy(env: Path, runner: SuiteRunner) -> None:
    good = _good_csv(env, "usage_events")
    dup = pd.concat([good, good.iloc[[4]]], ignore_index=True)
    _deliver(env, "usage_events", _frame_writer(dup))
    report = _ingest(env, "usage_events", runner)
    assert report.quarantined_rows == 2
    q = _quarantine(env)
    assert set(q["rule"]) == {"event_id: be unique"}
    assert sorted(q["row_number"]) == [5, len(dup)]


def test_reingesting_is_idempotent(env: Path, runner: SuiteRunner) -> None:
    before = _snapshot(env / "warehouse.duckdb")
    reports = ingest_landing(env / "landing", env / "warehouse.duckdb")
    assert all(f.status == "skipped" for r in reports.values() for f in r.files)
    assert _snapshot(env / "warehouse.duckdb") == before
    # the same bytes under another name are still recognised
    src = next((env / "landing" / "nps_responses" / "2025-02-01").glob("*.csv"))
    _deliver(env, "nps_responses", lambda p: shutil.copy(src, p))
    report = _ingest(env, "nps_responses", runner)
    assert report.loaded_rows == 0
    assert "already ingested as" in report.files[-1].reason


def test_rows_held_for_an_unknown_customer_load_once_accounts_are_fixed(
    env: Path, runner: SuiteRunner
) -> None:
    accounts = _good_csv(env, "accounts")
    newcomer = accounts.iloc[[0]].assign(customer_id="C77777777", email="new@example.com")
    tickets = _corrupt(_good_csv(env, "support_tickets"), 1, "customer_id", "C77777777")
    _deliver(env, "support_tickets", _frame_writer(tickets))
    report = _ingest(env, "support_tickets", runner)
    assert report.quarantined_rows == 1
    # the accounts export that was missing the customer is re-delivered with them
    _deliver(env, "accounts", _frame_writer(newcomer))
    _ingest(env, "accounts", runner)
    again = _ingest(env, "support_tickets", runner)
    assert again.released == 1
    con = duckdb.connect(str(env / "warehouse.duckdb"), read_only=True)
    got = con.execute("select count(*) from raw.support_tickets where customer_id = 'C77777777'").fetchall()
    released = con.execute("select count(*) from raw._quarantine where released_at is not null").fetchall()
    con.close()
    assert got[0][0] == 1
    assert released[0][0] == 1
