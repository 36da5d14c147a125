"""The company's application database (a real PostgreSQL) as a source, through the Dagster assets.

Load, change rows in the database (update some, insert some), re-load in a new process, re-load with no
change: the warehouse holds the latest version of every row, nothing twice, and the connector extracted only
what changed each time. The connection URL's password reaches no log, no event and no metadata.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
from dagster_dlt import DagsterDltResource

from churn_platform.contract import active_contract
from churn_platform.defs.ingest.connectors import build_connector_assets
from churn_platform.defs.ingest.landing import landing_files
from churn_platform.defs.ingest.raw import raw_assets
from churn_platform.defs.resources import LandingResource, SourceDatabaseResource, WarehouseResource
from churn_platform.profile import ProfileError, active_profile, load_profile
from tests.postgres import PASSWORD, Postgres, running_postgres

ROOT = Path(__file__).parents[2]
PROFILE = (
    (ROOT / "churn_platform" / "profiles" / "saas.yaml").read_text()
    + """
connectors:
  database:
    kind: postgresql
    schema: app
    tables:
      - table: customers
        source: accounts
        mapping:
          columns: {customer_id: id, name: full_name, acquisition_channel: channel}
      - table: subscriptions
        source: subscriptions
        mapping:
          columns: {subscription_id: id, mrr: mrr_cents}
          scale: {mrr: 0.01}
"""
)

SCHEMA = """
create schema app;
create table app.customers (
    id text primary key, full_name text, email text, country text, segment text, plan text,
    signup_date date, channel text, marketing_consent boolean, unsubscribed boolean,
    password_hash text, updated_at timestamptz not null
);
create table app.subscriptions (
    id text primary key, customer_id text references app.customers (id), plan text, mrr_cents integer,
    change_type text, start_date date, end_date date, cancel_date date, updated_at timestamp not null
);
insert into app.customers values
    ('C001', 'Acme', 'a@acme.example', 'US', 'smb', 'basic', '2025-01-10', 'organic', true, false, 'pbkdf2$x1', '2025-06-01 10:00:00+00'),
    ('C002', 'Birch', 'b@birch.example', 'DE', 'mid_market', 'basic', '2025-02-10', 'referral', false, false, 'pbkdf2$x2', '2025-06-01 11:00:00+00'),
    ('C003', 'Cobalt', 'c@cobalt.example', 'FR', 'enterprise', 'business', '2025-03-10', 'partner', true, false, 'pbkdf2$x3', '2025-06-02 09:00:00+02');
insert into app.subscriptions values
    ('S001', 'C001', 'basic', 4900, 'new', '2025-01-10', null, null, '2025-06-01 10:00:00'),
    ('S002', 'C002', 'basic', 4900, 'new', '2025-02-10', null, null, '2025-06-01 11:00:00'),
    ('S003', 'C003', 'business', 39900, 'new', '2025-03-10', null, null, '2025-06-02 07:00:00');
"""

CHANGES = """
update app.customers set plan = 'pro', updated_at = '2025-06-15 08:00:00+00' where id = 'C002';
update app.subscriptions set cancel_date = '2025-06-20', end_date = '2025-06-30',
    updated_at = '2025-06-20 12:00:00' where id = 'S001';
insert into app.customers values
    ('C004', 'Dune', 'd@dune.example', 'GB', 'smb', 'pro', '2025-06-18', 'paid_search', true, false, 'pbkdf2$x4', '2025-06-18 09:30:00+00');
insert into app.subscriptions values
    ('S004', 'C004', 'pro', 9950, 'new', '2025-06-18', null, null, '2025-06-18 09:30:00');
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as pg:
        yield pg


def _sql(pg: Postgres, sql: str) -> None:
    con = psycopg.connect(pg.url)
    try:
        with con, con.cursor() as cur:
            cur.execute(sql)
    finally:
        con.close()


def _db_rows(pg: Postgres, sql: str) -> list[tuple[object, ...]]:
    con = psycopg.connect(pg.url)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        con.close()


def _q(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture
def company(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: Postgres) -> Path:
    (tmp_path / "company.yaml").write_text(PROFILE)
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", str(tmp_path / "company.yaml"))
    monkeypatch.setenv("CHURN_SOURCE_DATABASE_URL", postgres.url)
    _sql(postgres, "drop schema if exists app cascade;" + SCHEMA)
    return tmp_path


def _resources(root: Path) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(path=str(root / "warehouse.duckdb")),
        "landing": LandingResource(path=str(root / "landing")),
        "dlt": DagsterDltResource(),
        "source_database": SourceDatabaseResource(
            url=dg.EnvVar("CHURN_SOURCE_DATABASE_URL"), state_dir=str(root / "connectors")
        ),
    }


def _materialize(root: Path) -> dg.ExecuteInProcessResult:
    assets = [*build_connector_assets(active_profile()), landing_files, *raw_assets]
    return dg.materialize(assets, resources=_resources(root))


def _landed(result: dg.ExecuteInProcessResult, table: str) -> int:
    mats = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["application_db", table])
    ]
    assert len(mats) == 1
    return int(mats[0].materialization.metadata["rows_landed"].value)  # type: ignore[union-attr,arg-type]


def _extract_in_a_new_process(root: Path) -> dict[str, int]:
    code = (
        "import json, pathlib, os\n"
        "from churn_platform.contract import active_contract\n"
        "from churn_platform.lib.connectors import Places, extract_to_landing\n"
        "c = active_contract()\n"
        "r = extract_to_landing(os.environ['CHURN_SOURCE_DATABASE_URL'], Places(pathlib.Path(os.environ['STATE'])),"
        " pathlib.Path(os.environ['LANDING']), c.profile.connectors.database, c)\n"
        "print(json.dumps({name: t.rows for name, t in r.tables.items()}))\n"
    )
    env = {**os.environ, "STATE": str(root / "connectors"), "LANDING": str(root / "landing")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert PASSWORD not in done.stdout + done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_postgres_source_load_change_reload_keeps_the_latest_once(
    company: Path, postgres: Postgres, capfd: pytest.CaptureFixture[str]
) -> None:
    wh = company / "warehouse.duckdb"
    # 1. the first load: every row, landed as contract files, ingested behind the gates
    first = _materialize(company)
    assert first.success
    assert (_landed(first, "customers"), _landed(first, "subscriptions")) == (3, 3)
    assert all(c.passed for c in first.get_asset_check_evaluations())
    today = dt.datetime.now(dt.UTC).date().isoformat()
    landed = company / "landing" / "accounts" / today / f"accounts_{today}_part0000.parquet"
    names = pq.read_schema(landed).names
    assert "customer_id" in names
    assert "acquisition_channel" in names
    assert "password_hash" not in names  # columns the contract does not need are never read
    assert "id" not in names
    assert _q(wh, "select count(*) n from raw.accounts")["n"][0] == 3

    # 2. the application changes rows: an update to each table, a new customer with a subscription
    _sql(postgres, CHANGES)

    # 3. a new process extracts only what changed (the cursor survived), then ingestion loads it
    assert _extract_in_a_new_process(company) == {"accounts": 2, "subscriptions": 2}
    second = _materialize(company)
    assert second.success
    assert (_landed(second, "customers"), _landed(second, "subscriptions")) == (0, 0)  # nothing new since

    # 4. nothing changed: nothing extracted, nothing loaded
    third = _materialize(company)
    assert third.success
    assert (_landed(third, "customers"), _landed(third, "subscriptions")) == (0, 0)
    loaded = [
        m.materialization.metadata["rows_loaded"].value  # type: ignore[union-attr]
        for m in third.get_asset_materialization_events()
        if m.asset_key in (dg.AssetKey(["raw", "accounts"]), dg.AssetKey(["raw", "subscriptions"]))
    ]
    assert loaded == [0, 0]

    # raw keeps each version once: 3 first versions + 2 changed/new ones, no version twice
    for table, key in (("accounts", "customer_id"), ("subscriptions", "subscription_id")):
        counts = _q(wh, f"select {key}, updated_at, count(*) n from raw.{table} group by all")
        assert len(counts) == 5
        assert counts["n"].max() == 1, counts
    assert _q(wh, "select count(*) n from raw._quarantine")["n"][0] == 0

    # the latest version per key (as staging reads it) is what the database holds now
    latest = _q(
        wh,
        "select customer_id, plan, updated_at from raw.accounts qualify row_number() over "
        "(partition by customer_id order by updated_at desc, _batch_date desc, _row_number desc) = 1 "
        "order by customer_id",
    )
    db = _db_rows(
        postgres,
        "select id, plan, (updated_at at time zone 'UTC') from app.customers order by id",
    )
    assert [tuple(r) for r in latest.itertuples(index=False)] == [(i, p, pd.Timestamp(u)) for i, p, u in db]
    subs = _q(
        wh,
        "select subscription_id, mrr, cancel_date from raw.subscriptions qualify row_number() over "
        "(partition by subscription_id order by updated_at desc) = 1 order by subscription_id",
    ).set_index("subscription_id")
    assert subs["mrr"].to_dict() == {"S001": 49.0, "S002": 49.0, "S003": 399.0, "S004": 99.5}
    assert str(subs.loc["S001", "cancel_date"].date()) == "2025-06-20"
    assert subs.loc[["S002", "S003", "S004"], "cancel_date"].isna().all()

    # the password reached no event, no metadata and no output
    seen = "\n".join(str(e) for r in (first, second, third) for e in r.all_events)
    captured = capfd.readouterr()
    assert PASSWORD not in seen + captured.out + captured.err
    assert active_contract().profile.connectors.database is not None


def test_an_unreachable_database_fails_the_asset_in_one_line_without_the_password(
    company: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHURN_SOURCE_DATABASE_URL", f"postgresql://churn:{PASSWORD}@127.0.0.1:1/postgres")
    result = dg.materialize(
        build_connector_assets(active_profile()), resources=_resources(company), raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert message.startswith("cannot reach the application database postgresql://churn:***@127.0.0.1:1/")
    assert PASSWORD not in "\n".join(str(e) for e in result.all_events)


def test_a_table_without_its_cursor_column_is_named(company: Path, postgres: Postgres) -> None:
    _sql(postgres, "alter table app.subscriptions rename column updated_at to modified_at")
    result = dg.materialize(
        build_connector_assets(active_profile()), resources=_resources(company), raise_on_error=False
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert message.startswith("app.subscriptions has no column 'updated_at' (cursor of subscriptions)")


def test_a_source_fed_by_the_database_and_mapped_as_an_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "company.yaml"
    path.write_text(PROFILE + "exports:\n  accounts: {columns: {name: Name}}\n")
    with pytest.raises(ProfileError, match=r"accounts: fed by connectors\.database and mapped in exports"):
        load_profile(path)


def test_the_code_location_loads_the_database_assets_upstream_of_the_landing_folder(tmp_path: Path) -> None:
    (tmp_path / "company.yaml").write_text(PROFILE)
    code = (
        "import dagster as dg\n"
        "from churn_platform.definitions import defs\n"
        "d = defs()\n"
        "graph = d.resolve_asset_graph()\n"
        "keys = [k.to_user_string() for k in graph.get_all_asset_keys() if k.path[0] == 'application_db']\n"
        "deps = [k.to_user_string() for k in graph.get(dg.AssetKey('landing_files')).parent_keys]\n"
        "print(sorted(keys), sorted(deps), d.resolve_schedule_def('application_database_schedule').cron_schedule)\n"
    )
    env = {**os.environ, "CHURN_COMPANY_PROFILE": str(tmp_path / "company.yaml")}
    env.pop("CHURN_SOURCE_DATABASE_URL", None)  # loading needs no secret; only a run does
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    keys = "['application_db/customers', 'application_db/subscriptions']"
    assert done.stdout.strip().splitlines()[-1] == f"{keys} {keys} 0 * * * *"


def test_a_table_lacking_a_required_column_fails_before_the_cursor_moves(
    company: Path, postgres: Postgres
) -> None:
    _sql(postgres, "alter table app.customers drop column email")
    result = dg.materialize(
        build_connector_assets(active_profile()), resources=_resources(company), raise_on_error=False
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert message.startswith("app.customers has no column for accounts.email (map it in")
    assert not (company / "connectors" / "extracted" / "extracted" / "accounts").exists()
    # fixed in the database, the next run extracts every row: nothing was skipped
    _sql(postgres, "alter table app.customers add column email text")
    again = dg.materialize(build_connector_assets(active_profile()), resources=_resources(company))
    assert _landed(again, "customers") == 3
