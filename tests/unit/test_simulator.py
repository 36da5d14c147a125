"""The simulator writes the data contract, deterministically, and its churn really follows behaviour."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from churn_platform.cli import app
from churn_platform.contract import contract_named
from churn_platform.lib.landing import discover
from churn_platform.simulate.config import SimulationConfig
from churn_platform.simulate.engine import SimulationSummary, simulate
from tests.conftest import make_company
from tests.landing_checks import assert_landing_conforms

SOURCES = contract_named("saas").sources


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_every_landing_file_conforms_to_the_contract(company: SimulationSummary) -> None:
    files = assert_landing_conforms(company.landing, contract_named("saas"))
    assert {f.source for f in files} == set(SOURCES)
    assert len({f.batch_date for f in files}) == 8


def test_same_arguments_give_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    make_company(tmp_path / "a", customers=400, months=3, seed=11)
    make_company(tmp_path / "b", customers=400, months=3, seed=11)
    make_company(tmp_path / "c", customers=400, months=3, seed=12)
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert len(a) > 20
    assert a != c


def test_ground_truth_never_reaches_the_landing_folder(company: SimulationSummary) -> None:
    truth_columns = set(pq.read_schema(company.ground_truth / "customers.parquet").names)
    truth_columns |= set(pq.read_schema(next((company.ground_truth / "monthly").glob("*.parquet"))).names)
    truth_only = truth_columns - {"customer_id", "snapshot_date", "churn_date"}
    assert {"true_churn_prob", "effect_discount", "archetype"} <= truth_only
    contract_files = {f.path for f in discover(company.landing)}
    every_file = {p for p in company.landing.rglob("*") if p.is_file()}
    assert every_file == contract_files, "only contract files may be delivered"
    for path in every_file:
        assert not truth_only & set(pq.read_schema(path).names), path
    assert not company.ground_truth.is_relative_to(company.landing)


def test_oracle_auc_is_learnable_but_not_trivial(company: SimulationSummary) -> None:
    assert company.oracle_auc is not None
    assert 0.75 <= company.oracle_auc <= 0.92
    assert 0.02 <= company.churn_rate <= 0.07


def _indicators(company: SimulationSummary) -> pd.DataFrame:
    """Per customer and snapshot, the documented churn indicators as the landing data shows them."""
    land = company.landing
    truth = company.ground_truth / "monthly"
    sql = f"""
    with truth as (
        select customer_id, snapshot_date::timestamp as s, churned
        from read_parquet('{truth}/*.parquet') where snapshot_date >= date '2025-04-01'
    ),
    ev as (select * from read_parquet('{land}/usage_events/*/*.parquet')),
    usage as (
        select t.customer_id, t.s,
            count(*) filter (where e.event_ts >= t.s - interval 30 day) as e1,
            count(*) filter (where e.event_ts < t.s - interval 30 day) as e2,
            count(*) filter (where e.event_type = 'login' and e.event_ts >= t.s - interval 30 day) as l1,
            count(*) filter (where e.event_type = 'login' and e.event_ts < t.s - interval 30 day) as l2,
            max(e.event_ts) filter (where e.event_type = 'login') as last_login
        from truth t left join ev e
          on e.customer_id = t.customer_id and e.event_ts < t.s and e.event_ts >= t.s - interval 60 day
        group by all
    ),
    tk as (
        select * from read_parquet('{land}/support_tickets/*/*.parquet')
        qualify row_number() over (partition by ticket_id order by updated_at desc) = 1
    ),
    tickets as (
        select t.customer_id, t.s,
            count(k.ticket_id) filter (where k.resolved_at is null or k.resolved_at >= t.s) as unresolved,
            count(k.ticket_id) filter (where k.escalated and k.opened_at >= t.s - interval 30 day) as escalated
        from truth t left join tk k on k.customer_id = t.customer_id and k.opened_at < t.s
        group by all
    ),
    inv as (
        select * from read_parquet('{land}/invoices/*/*.parquet')
        qualify row_number() over (partition by invoice_id order by updated_at desc) = 1
    ),
    pay as (
        select t.customer_id, t.s,
            count(i.invoice_id) filter (where i.status = 'failed' and i.due_date >= t.s - interval 45 day) as failed,
            count(i.invoice_id) filter (where i.paid_date > i.due_date and i.paid_date >= t.s - interval 90 day) as late
        from truth t left join inv i on i.customer_id = t.customer_id and i.due_date < t.s
        group by all
    ),
    nps as (
        select t.customer_id, t.s, arg_max(n.score, n.responded_at) as nps
        from truth t join read_parquet('{land}/nps_responses/*/*.parquet') n
          on n.customer_id = t.customer_id and n.responded_at < t.s
        group by all
    ),
    acc as (
        select * from read_parquet('{land}/accounts/*/*.parquet')
        qualify row_number() over (partition by customer_id order by updated_at desc) = 1
    ),
    subs as (
        select * from read_parquet('{land}/subscriptions/*/*.parquet')
        qualify row_number() over (partition by subscription_id order by updated_at desc) = 1
    ),
    downgrades as (
        select t.customer_id, t.s, count(*) as downgrades
        from truth t join subs d on d.customer_id = t.customer_id and d.change_type = 'downgrade'
          and d.start_date < t.s and d.start_date >= t.s - interval 90 day
        group by all
    )
    select t.*, u.e1, u.e2, u.l1, u.l2,
        date_diff('day', coalesce(u.last_login, t.s - interval 60 day), t.s) as days_since_login,
        k.unresolved, k.escalated, p.failed, p.late, n.nps, coalesce(d.downgrades, 0) as downgrades,
        a.onboarding_completed_at is null or a.onboarding_completed_at >= t.s as onboarding_incomplete,
        date_diff('day', a.signup_date, t.s) as tenure_days, a.segment, a.plan
    from truth t
    join usage u using (customer_id, s)
    join tickets k using (customer_id, s)
    join pay p using (customer_id, s)
    join acc a using (customer_id)
    left join nps n using (customer_id, s)
    left join downgrades d using (customer_id, s)
    """
    return duckdb.sql(sql).df()


def test_each_documented_indicator_moves_churn(company: SimulationSummary) -> None:
    df = _indicators(company)
    churn = df["churned"].astype(bool)
    flags = {
        "usage down 30%+ over 30 days": df["e1"] < 0.7 * df["e2"],
        "logins falling": df["l1"] < df["l2"],
        "no login for 14+ days": df["days_since_login"] >= 14,
        "unresolved ticket": df["unresolved"] > 0,
        "escalated ticket": df["escalated"] > 0,
        "failed payment, not recovered": df["failed"] > 0,
        "late payment": df["late"] > 0,
        "NPS detractor (<= 6)": df["nps"].fillna(99) <= 6,
        "onboarding incomplete": df["onboarding_incomplete"].astype(bool),
        "short tenure (< 90 days)": df["tenure_days"] < 90,
        "recent downgrade": df["downgrades"] > 0,
        "basic plan": df["plan"] == "basic",
        "smb segment": df["segment"] == "smb",
    }
    report = []
    for name, flag in flags.items():
        flag = flag.astype(bool)
        in_churners, in_stayers = flag[churn].mean(), flag[~churn].mean()
        report.append((name, in_churners, in_stayers))
    weak = [r for r in report if not r[1] > r[2] * 1.1]
    assert not weak, f"indicators that do not separate churners from stayers: {weak}\nall: {report}"


def test_continuing_the_company_adds_batches_and_treated_customers_respond(tmp_path: Path) -> None:
    summary = make_company(tmp_path, customers=1500, months=3, seed=5)
    # the platform's send ledger: treat every second at-risk customer of the next month with a discount
    state_next = dt.date(2025, 4, 1)
    accounts = duckdb.sql(
        f"select distinct customer_id from read_parquet('{summary.landing}/accounts/*/*.parquet')"
    )
    ids = sorted(r[0] for r in accounts.fetchall())[::2]
    ledger = tmp_path / "ledger.csv"
    pacsv.write_csv(
        pa.table(
            {
                "customer_id": ids,
                "intervention": ["discount"] * len(ids),
                "snapshot_date": pa.array([state_next] * len(ids), pa.date32()),
            }
        ),
        ledger,
    )
    config = SimulationConfig(
        customers=1500,
        start=dt.date(2025, 1, 1),
        months=3,
        seed=5,
        landing=summary.landing,
        ground_truth=summary.ground_truth,
        ledger=ledger,
    )
    more = simulate(config, advance_months=2)
    assert [m.batch_date for m in more.months] == ["2025-05-01", "2025-06-01"]
    assert {f.batch_date for f in discover(summary.landing)} >= {dt.date(2025, 5, 1), dt.date(2025, 6, 1)}
    truth = pd.read_parquet(summary.ground_truth / "monthly" / "2025-04-01.parquet")
    effects = pd.read_parquet(summary.ground_truth / "customers.parquet").set_index("customer_id")
    treated = truth[truth["intervention"] == "discount"]
    assert len(treated) > 300
    assert set(treated["customer_id"]) <= set(ids)
    expected = np.clip(
        treated["untreated_churn_prob"].to_numpy()
        * (1 - effects.loc[treated["customer_id"], "effect_discount"].to_numpy()),
        0,
        0.999,
    )
    np.testing.assert_allclose(treated["true_churn_prob"], expected, atol=2e-6)
    untreated = truth[truth["intervention"].isna()]
    np.testing.assert_array_equal(untreated["true_churn_prob"], untreated["untreated_churn_prob"])
    # ids stay unique across the continuation
    events = duckdb.sql(
        f"select count(*), count(distinct event_id) from read_parquet('{summary.landing}/usage_events/*/*.parquet')"
    )
    total, distinct = events.fetchall()[0]
    assert total == distinct


def test_effects_are_heterogeneous(company: SimulationSummary) -> None:
    effects = pd.read_parquet(company.ground_truth / "customers.parquet")
    cols = [c for c in effects if c.startswith("effect_")]
    assert len(cols) == 4
    best = effects[cols].max(axis=1)
    assert (best > 0.2).mean() > 0.25, "some customers are persuadable"
    assert (effects[cols].abs().max(axis=1) < 0.1).mean() > 0.3, "many are moved by nothing"
    assert (effects[cols].max(axis=1) < 0).mean() > 0.03, "a few are put off by any contact"
    assert effects[cols].idxmax(axis=1).nunique() == 4, "different offers suit different customers"


def test_csv_delivery_matches_the_contract(tmp_path: Path) -> None:
    summary = make_company(tmp_path, customers=200, months=2, file_format="csv")
    files = discover(summary.landing)
    assert files
    assert all(f.file_format == "csv" for f in files)
    for f in files:
        source = SOURCES[f.source]
        table = pacsv.read_csv(
            f.path,
            convert_options=pacsv.ConvertOptions(column_types={c.name: c.arrow_type for c in source.columns}),
        )
        assert table.column_names == source.column_names


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="first day of a month"):
        SimulationConfig(start=dt.date(2025, 1, 15), landing=tmp_path / "l", ground_truth=tmp_path / "g")
    with pytest.raises(ValidationError, match="extra"):
        SimulationConfig(landing=tmp_path, ground_truth=tmp_path, colour="blue")  # type: ignore[call-arg]
    config = SimulationConfig(customers=50, months=1, landing=tmp_path / "l", ground_truth=tmp_path / "g")
    with pytest.raises(FileNotFoundError, match="no simulation to continue"):
        simulate(config, advance_months=1)
    simulate(config)
    with pytest.raises(FileExistsError, match="not empty"):
        simulate(config)


# ---------------------------------------------------------------------- simulated drift

DRIFT_MONTH = 4  # May 2025: ground-truth snapshot 2025-05-01, landing batch 2025-06-01


@pytest.fixture(scope="module")
def drift_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimulationSummary]:
    """One company (1,500 accounts, 6 months, same seed) without drift, with a price rise, with an outage."""
    root = tmp_path_factory.mktemp("drift")
    size: dict[str, object] = {"customers": 1500, "months": 6, "seed": 3}
    return {
        "none": make_company(root / "none", **size),  # type: ignore[arg-type]
        "price_rise": make_company(root / "rise", **size, drift="price_rise", drift_month=DRIFT_MONTH),  # type: ignore[arg-type]
        "outage": make_company(root / "outage", **size, drift="outage", drift_month=DRIFT_MONTH),  # type: ignore[arg-type]
    }


def _batch(summary: SimulationSummary, source: str, batch: str) -> pd.DataFrame:
    return pd.read_parquet(summary.landing / source / batch)


def _truth(summary: SimulationSummary, snapshot: str) -> pd.DataFrame:
    return pd.read_parquet(summary.ground_truth / "monthly" / f"{snapshot}.parquet")


def _issued_in_month(summary: SimulationSummary, batch: str) -> pd.Series:
    """Invoice amounts issued in the month a batch covers (re-delivered older invoices left out)."""
    inv = _batch(summary, "invoices", batch)
    month_start = (pd.Timestamp(batch) - pd.DateOffset(months=1)).date()
    return inv.loc[inv["issued_date"] >= month_start].set_index("customer_id")["amount"]


def _events_per_customer(summary: SimulationSummary, snapshot: str, batch: str) -> float:
    events = duckdb.sql(
        f"select count(*) from read_parquet('{summary.landing}/usage_events/{batch}/*.parquet')"
    ).fetchall()[0][0]
    return float(events) / len(_truth(summary, snapshot))


def _tickets_opened(summary: SimulationSummary, batch: str) -> pd.DataFrame:
    tickets = _batch(summary, "support_tickets", batch)
    month_start = pd.Timestamp(batch) - pd.DateOffset(months=1)
    return tickets.loc[tickets["opened_at"] >= month_start]


def test_a_price_rise_raises_mrr_for_good_and_customers_react(
    drift_runs: dict[str, SimulationSummary],
) -> None:
    none, rise = drift_runs["none"], drift_runs["price_rise"]
    # invoices: the mean amount of the drift batch vs the batch before, against the same company without drift
    ratio_rise = _issued_in_month(rise, "2025-06-01").mean() / _issued_in_month(rise, "2025-05-01").mean()
    ratio_none = _issued_in_month(none, "2025-06-01").mean() / _issued_in_month(none, "2025-05-01").mean()
    assert ratio_rise / ratio_none == pytest.approx(1.25, abs=0.04)
    per_customer = _issued_in_month(rise, "2025-06-01") / _issued_in_month(rise, "2025-05-01")
    assert per_customer.dropna().median() == pytest.approx(1.25, abs=0.005)
    # subscriptions: each running period ends the day before the rise, a new one opens at the raised MRR
    subs = _batch(rise, "subscriptions", "2025-06-01")
    ended = subs[(subs["end_date"] == dt.date(2025, 4, 30)) & subs["cancel_date"].isna()].set_index(
        "customer_id"
    )
    opened = subs[(subs["start_date"] == dt.date(2025, 5, 1)) & (subs["change_type"] == "new")]
    repriced = opened.set_index("customer_id")["mrr"] / ended["mrr"]
    assert len(repriced.dropna()) >= 0.9 * len(_truth(rise, "2025-05-01"))
    assert repriced.dropna().median() == pytest.approx(1.25, abs=0.005)

    # later signups pay the raised list price (same customers, same traits in both runs)
    def first_mrr(summary: SimulationSummary) -> pd.Series:
        s = duckdb.sql(
            f"""select customer_id, mrr from read_parquet('{summary.landing}/subscriptions/*/*.parquet')
            where start_date > date '2025-05-01' and change_type = 'new'
            qualify row_number() over (partition by subscription_id order by updated_at desc) = 1"""
        ).df()
        return s.set_index("customer_id")["mrr"]

    signups = (first_mrr(rise) / first_mrr(none)).dropna()
    assert len(signups) > 50
    assert signups.median() == pytest.approx(1.25, abs=0.005)
    # customers react: churn rises in the month of the rise, less so in the month after
    for snapshot, lift in (("2025-05-01", 1.5), ("2025-06-01", 1.1)):
        with_rise, without = _truth(rise, snapshot), _truth(none, snapshot)
        assert with_rise["true_churn_prob"].mean() > lift * without["true_churn_prob"].mean(), snapshot
        assert with_rise["churned"].mean() > without["churned"].mean(), snapshot


def test_an_outage_cuts_usage_raises_tickets_and_next_month_churn(
    drift_runs: dict[str, SimulationSummary],
) -> None:
    none, out = drift_runs["none"], drift_runs["outage"]
    usage_out = _events_per_customer(out, "2025-05-01", "2025-06-01")
    assert usage_out < 0.7 * _events_per_customer(none, "2025-05-01", "2025-06-01")
    assert usage_out < 0.7 * _events_per_customer(out, "2025-04-01", "2025-05-01")
    # one month only: usage comes back the month after
    assert _events_per_customer(out, "2025-06-01", "2025-07-01") > 0.85 * _events_per_customer(
        none, "2025-06-01", "2025-07-01"
    )
    tickets_out, tickets_none = _tickets_opened(out, "2025-06-01"), _tickets_opened(none, "2025-06-01")
    assert len(tickets_out) > 1.5 * len(tickets_none)
    assert tickets_out["escalated"].sum() > 1.5 * tickets_none["escalated"].sum()
    # churn follows the month after, through the observable usage and ticket terms
    assert _truth(out, "2025-05-01")["true_churn_prob"].mean() == pytest.approx(
        _truth(none, "2025-05-01")["true_churn_prob"].mean(), rel=1e-9
    )
    after_out, after_none = _truth(out, "2025-06-01"), _truth(none, "2025-06-01")
    assert after_out["true_churn_prob"].mean() > 1.5 * after_none["true_churn_prob"].mean()
    assert after_out["churned"].mean() > 1.5 * after_none["churned"].mean()


def test_drift_changes_nothing_before_it_begins_and_none_changes_nothing(
    tmp_path: Path, drift_runs: dict[str, SimulationSummary]
) -> None:
    none = drift_runs["none"]
    explicit = make_company(tmp_path / "explicit", customers=1500, months=6, seed=3, drift="none")
    assert _digest(explicit.landing) == _digest(none.landing)
    assert _digest(explicit.ground_truth) == _digest(none.ground_truth)
    assert "drift" not in json.loads((none.ground_truth / "state" / "meta.json").read_text())
    assert "drift" not in json.loads((none.ground_truth / "summary.json").read_text())
    before = [f"/{b}/" for b in ("2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01")]
    plain = _digest(none.landing)
    shifted = {"price_rise": {"invoices", "subscriptions"}, "outage": {"usage_events", "support_tickets"}}
    for kind, sources in shifted.items():
        drifted = _digest(drift_runs[kind].landing)
        same = {k: v for k, v in plain.items() if any(b in f"/{k}" for b in before)}
        assert len(same) > 20
        assert {k: drifted[k] for k in same} == same, kind
        changed = {k.split("/")[0] for k, v in plain.items() if "/2025-06-01/" in f"/{k}" and drifted[k] != v}
        assert sources <= changed, kind
        summary = json.loads((drift_runs[kind].ground_truth / "summary.json").read_text())
        assert summary["drift"] == {"kind": kind, "month": DRIFT_MONTH, "batch_date": "2025-06-01"}


def test_advancing_with_a_drift_applies_it_and_later_advances_keep_the_regime(tmp_path: Path) -> None:
    base = make_company(tmp_path / "base", customers=800, months=3, seed=5)
    rise = make_company(tmp_path / "rise", customers=800, months=3, seed=5)

    def config(summary: SimulationSummary, **kw: object) -> SimulationConfig:
        return SimulationConfig(
            customers=800,
            start=dt.date(2025, 1, 1),
            months=3,
            seed=5,
            landing=summary.landing,
            ground_truth=summary.ground_truth,
            **kw,
        )

    expected = {"kind": "price_rise", "month": 3, "batch_date": "2025-05-01"}
    simulate(config(base), advance_months=1)
    assert simulate(config(rise, drift="price_rise"), advance_months=1).drift == expected
    meta = json.loads((rise.ground_truth / "state" / "meta.json").read_text())
    assert meta["drift"] == {"kind": "price_rise", "month": 3}
    assert meta["list_price_factor"] == 1.25
    per_customer = _issued_in_month(rise, "2025-05-01") / _issued_in_month(base, "2025-05-01")
    assert per_customer.dropna().median() == pytest.approx(1.25, abs=0.005)
    # a later advance without flags stays in the regime: the reaction of the month after, the raised list price
    simulate(config(base), advance_months=1)
    later = simulate(config(rise), advance_months=1)
    assert later.drift == expected
    assert json.loads((rise.ground_truth / "summary.json").read_text())["drift"] == expected
    assert (
        _truth(rise, "2025-05-01")["true_churn_prob"].mean()
        > 1.1 * _truth(base, "2025-05-01")["true_churn_prob"].mean()
    )
    assert (
        _issued_in_month(rise, "2025-06-01") / _issued_in_month(base, "2025-06-01")
    ).dropna().median() == (pytest.approx(1.25, abs=0.005))
    # a drift must begin within the months the run simulates
    with pytest.raises(ValueError, match="outside the months this run simulates"):
        simulate(config(rise, drift="outage", drift_month=2), advance_months=1)


def test_drift_errors_are_clear(tmp_path: Path) -> None:
    land, truth = tmp_path / "l", tmp_path / "g"
    with pytest.raises(ValidationError, match="'none', 'price_rise' or 'outage'"):
        SimulationConfig(drift="heatwave", landing=land, ground_truth=truth)
    with pytest.raises(ValidationError, match="drift_month is set but drift is 'none'"):
        SimulationConfig(drift_month=2, landing=land, ground_truth=truth)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        SimulationConfig(drift="outage", drift_month=-1, landing=land, ground_truth=truth)
    config = SimulationConfig(
        customers=50, months=2, drift="outage", drift_month=2, landing=land, ground_truth=truth
    )
    with pytest.raises(ValueError, match=r"drift_month 2 is outside .* \(0 to 1"):
        simulate(config)


def test_cli_drift_options(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["simulate", "--customers", "200", "--months", "2", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--drift", "outage"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "ground_truth" / "summary.json").read_text())
    assert summary["drift"] == {"kind": "outage", "month": 1, "batch_date": "2025-03-01"}
    result = runner.invoke(
        app, [*args, "--advance-months", "1", "--drift", "price_rise", "--drift-month", "3"]
    )
    assert result.exit_code == 2
    assert "outside the months" in result.output
    result = runner.invoke(app, [*args, "--force", "--drift", "heatwave"])
    assert result.exit_code == 2
    assert "price_rise" in result.output


def _latest(landing: Path, source: str, key: str) -> pd.DataFrame:
    return duckdb.sql(
        f"select * from read_parquet('{landing}/{source}/*/*.parquet') "
        f"qualify row_number() over (partition by {key} order by updated_at desc) = 1"
    ).df()


def assert_reactivations_follow_cancellations(summary: SimulationSummary) -> pd.DataFrame:
    """Every reactivation period follows a cancelled one of the same customer, and the returned customer is
    in the ground truth (active, at risk) at the first month start after the return."""
    subs = _latest(summary.landing, "subscriptions", "subscription_id").sort_values(
        ["customer_id", "start_date"]
    )
    back = subs[subs["change_type"] == "reactivation"]
    assert len(back) > 0, "some churned customers come back"
    for _, row in back.iterrows():
        before = subs[(subs["customer_id"] == row["customer_id"]) & (subs["start_date"] < row["start_date"])]
        assert before["cancel_date"].notna().iloc[-1], row["customer_id"]
        assert (before["cancel_date"].dropna() < row["start_date"]).all()
    truth = pd.concat(
        pd.read_parquet(p) for p in sorted((summary.ground_truth / "monthly").glob("*.parquet"))
    )
    last = truth["snapshot_date"].max()
    checked = 0
    for _, row in back.iterrows():
        snapshot = (pd.Timestamp(row["start_date"]) + pd.offsets.MonthBegin(1)).date()
        if snapshot > last:
            continue
        rows = truth[(truth["customer_id"] == row["customer_id"]) & (truth["snapshot_date"] == snapshot)]
        assert len(rows) == 1, (
            f"{row['customer_id']} back on {row['start_date']} is not in the truth of {snapshot}"
        )
        checked += 1
    assert checked > 0
    return back


def test_churned_accounts_come_back_and_managers_are_assigned_later(company: SimulationSummary) -> None:
    back = assert_reactivations_follow_cancellations(company)
    assert company.reactivations == len(back)
    accounts = duckdb.sql(
        f"select customer_id, updated_at, account_manager from read_parquet('{company.landing}/accounts/*/*.parquet')"
    ).df()
    ordered = accounts.sort_values(["customer_id", "updated_at"])
    first = ordered.drop_duplicates("customer_id", keep="first").set_index("customer_id")
    last = ordered.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    later = first["account_manager"].isna() & last["account_manager"].notna()
    assert later.sum() > 10, "some accounts get a manager after signup (the account is re-delivered)"
