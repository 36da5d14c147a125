"""How close a model gets to the best possible model, on the simulator's ground truth.

Two ways to measure it:

- ``--data-dir`` (default mode): read a platform data folder (default: the project's data/, as left by
  `bash scripts/run.sh`), score the validation snapshot of the latest training round with the champion, and
  print its ROC-AUC next to the oracle's (the simulator's true churn probabilities) on exactly the same
  customers and window.
- ``--profile NAME|PATH --landing ROOT`` (or ``--simulate``): the simulator's learnability, without the
  pipeline. Builds 30-day features straight from a simulated company's landing files (per event type: counts in
  the last 30 days and the 30 before, their change, days since the last one, per active day, summed measures;
  totals; point-in-time account attributes, tenure, age, plan and MRR; tickets, invoices and NPS when the profile
  delivers them) for each month-start snapshot with 60 days of history, trains a seeded CatBoost on the older
  snapshots and reports ROC-AUC on the newest fully matured one next to the oracle's on the same rows, for a
  model with one count per event type and for one with only the total count. ``--simulate`` first simulates
  the company (``--customers``, ``--months``, ``--seed``) into a temporary folder.

Usage:
  python benchmarks/oracle_gap.py [--data-dir DIR]
  python benchmarks/oracle_gap.py --profile social --simulate --customers 10000 --months 12
  python benchmarks/oracle_gap.py --profile saas --landing /tmp/acme
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import roc_auc_score


def champion_gap(data_dir: Path | None) -> None:
    if data_dir:
        os.environ["CHURN_DATA_DIR"] = str(data_dir)
    from churn_platform.lib.ml_pipeline import read_table
    from churn_platform.settings import get_settings
    from ml.registry import get_alias, score_with
    from ml.tracking import configure, quiet_mlflow
    from ml.train import time_split

    settings = get_settings()
    configure(settings.mlflow_uri, settings.mlflow_artifacts)
    champion = get_alias(settings.model_name)
    if champion is None:
        raise SystemExit("no champion model: run the platform first")
    training = read_table(settings.warehouse, "select * from ml_training_set")
    split = time_split(training)
    val = training[pd.to_datetime(training["snapshot_date"]).dt.date == split.validation]
    with quiet_mlflow():
        p = score_with(champion.uri, val.drop(columns=["churned"]))
    truth = pd.read_parquet(settings.ground_truth / "monthly" / f"{split.validation}.parquet")
    joined = (
        val[["customer_id", "churned"]].assign(p=p).merge(truth, on="customer_id", suffixes=("", "_truth"))
    )
    model_auc = roc_auc_score(joined["churned"].astype(int), joined["p"])
    oracle_auc = roc_auc_score(joined["churned"].astype(int), joined["true_churn_prob"])
    agree = (joined["churned"].astype(bool) == joined["churned_truth"].astype(bool)).mean()
    print(
        f"{'window':<12} {'customers':>9} {'churned':>7} {'champion':>9} {'model AUC':>9} {'oracle AUC':>10} {'ratio':>6} {'labels = truth':>14}"
    )
    print(
        f"{split.validation!s:<12} {len(joined):>9,} {int(joined['churned'].sum()):>7} {'v' + champion.version:>9} "
        f"{model_auc:>9.4f} {oracle_auc:>10.4f} {model_auc / oracle_auc:>6.3f} {agree:>14.2%}"
    )


# ---------------------------------------------------------------------- learnability from landing files


def landing_features(root: Path, profile: Any) -> pd.DataFrame:
    """One row per active customer and month-start snapshot (with 60 days of history): features from the
    landing files only (point in time: strictly before the snapshot), plus the truth's label and probability."""
    import duckdb

    land, truth = root / "landing", root / "ground_truth" / "monthly"
    con = duckdb.connect()
    con.execute("set threads to 2")
    con.execute(f"""
        create table truth as select customer_id, snapshot_date::timestamp as s, churned, true_churn_prob
        from read_parquet('{truth}/*.parquet')""")
    first = con.execute("select min(event_ts)::date from read_parquet('" + str(land) + "/usage_events/*/*')")
    start = first.fetchone()[0]  # type: ignore[index]
    con.execute(f"delete from truth where s < timestamp '{start}' + interval 60 day")
    con.execute(f"""
        create table daily as
        select customer_id, event_type, event_ts::date::timestamp as d, count(*) as n,
            sum(duration_seconds) as secs, sum(value) as val
        from read_parquet('{land}/usage_events/*/*.parquet') group by all""")
    per_type = con.execute("""
        select t.customer_id, t.s, e.event_type,
            coalesce(sum(e.n) filter (where e.d >= t.s - interval 30 day), 0) as c30,
            coalesce(sum(e.n) filter (where e.d < t.s - interval 30 day and e.d >= t.s - interval 60 day), 0) as c60,
            coalesce(sum(e.secs) filter (where e.d >= t.s - interval 30 day), 0) as secs30,
            coalesce(sum(e.secs) filter (where e.d < t.s - interval 30 day and e.d >= t.s - interval 60 day), 0)
                as secs60,
            coalesce(sum(e.val) filter (where e.d >= t.s - interval 30 day), 0) as val30,
            coalesce(sum(e.val) filter (where e.d < t.s - interval 30 day and e.d >= t.s - interval 60 day), 0)
                as val60,
            date_diff('day', max(e.d), t.s) as since
        from truth t join daily e on e.customer_id = t.customer_id and e.d < t.s
        group by t.customer_id, t.s, e.event_type""").df()
    totals = con.execute("""
        with days as (select customer_id, d, sum(n) as n from daily group by all)
        select t.customer_id, t.s,
            coalesce(sum(e.n) filter (where e.d >= t.s - interval 30 day), 0) as events_30d,
            coalesce(sum(e.n) filter (where e.d < t.s - interval 30 day and e.d >= t.s - interval 60 day), 0)
                as events_prev_30d,
            count(*) filter (where e.d >= t.s - interval 30 day) as active_days_30d,
            date_diff('day', max(e.d), t.s) as days_since_last_event
        from truth t left join days e on e.customer_id = t.customer_id and e.d < t.s
        group by t.customer_id, t.s""").df()
    attrs = [a.name for a in profile.attributes]
    attr_cols = "".join(f", a.{name}" for name in attrs)
    accounts = con.execute(f"""
        select t.customer_id, t.s, date_diff('day', a.signup_date, t.s) as tenure_days, a.plan as account_plan,
            a.segment, a.country, a.acquisition_channel, a.marketing_consent,
            a.account_manager is not null as has_manager,
            a.onboarding_completed_at is not null and a.onboarding_completed_at < t.s as onboarded{attr_cols}
        from truth t asof join read_parquet('{land}/accounts/*/*.parquet') a
          on a.customer_id = t.customer_id and t.s > a.updated_at""").df()
    subs = con.execute(f"""
        with periods as (
            select * from read_parquet('{land}/subscriptions/*/*.parquet')
            qualify row_number() over (partition by subscription_id order by updated_at desc) = 1
        )
        select t.customer_id, t.s, p.plan, p.mrr, p.change_type as period_change_type
        from truth t asof join periods p on p.customer_id = t.customer_id and t.s > p.start_date""").df()
    frames = [totals, accounts, subs]
    if profile.delivers("support_tickets"):
        frames.append(
            con.execute(f"""
            with tk as (select * from read_parquet('{land}/support_tickets/*/*.parquet')
                qualify row_number() over (partition by ticket_id order by updated_at desc) = 1)
            select t.customer_id, t.s,
                count(k.ticket_id) filter (where k.resolved_at is null or k.resolved_at >= t.s) as open_tickets,
                max(date_diff('day', k.opened_at, t.s)) filter (where k.resolved_at is null or k.resolved_at >= t.s)
                    as oldest_open_days,
                count(k.ticket_id) filter (where k.escalated and k.opened_at >= t.s - interval 30 day)
                    as escalated_30d,
                count(k.ticket_id) filter (where k.opened_at >= t.s - interval 30 day) as tickets_30d
            from truth t left join tk k on k.customer_id = t.customer_id and k.opened_at < t.s
            group by t.customer_id, t.s""").df()
        )
    if profile.delivers("invoices"):
        frames.append(
            con.execute(f"""
            with inv as (select * from read_parquet('{land}/invoices/*/*.parquet')
                qualify row_number() over (partition by invoice_id order by updated_at desc) = 1)
            select t.customer_id, t.s,
                count(i.invoice_id) filter (where i.status = 'failed' and i.due_date >= t.s - interval 45 day)
                    as failed_45d,
                count(i.invoice_id) filter (where i.paid_date > i.due_date and i.paid_date >= t.s - interval 90 day)
                    as late_90d
            from truth t left join inv i on i.customer_id = t.customer_id and i.due_date < t.s
              and i.updated_at < t.s
            group by all""").df()
        )
    if profile.delivers("nps_responses"):
        frames.append(
            con.execute(f"""
            with n as (select *, lag(score) over (partition by customer_id order by responded_at) as prev
                       from read_parquet('{land}/nps_responses/*/*.parquet'))
            select t.customer_id, t.s, arg_max(n.score, n.responded_at) as nps_last,
                arg_max(n.prev, n.responded_at) as nps_prev
            from truth t join n on n.customer_id = t.customer_id and n.responded_at < t.s
            group by all""").df()
        )
    df = con.execute("select * from truth").df()
    for frame in frames:
        df = df.merge(frame, on=["customer_id", "s"], how="left")
    wide = per_type.pivot_table(
        index=["customer_id", "s"],
        columns="event_type",
        values=["c30", "c60", "secs30", "secs60", "val30", "val60", "since"],
    )
    wide.columns = [f"{t}__{k}" for k, t in wide.columns]
    df = df.merge(wide.reset_index(), on=["customer_id", "s"], how="left")
    per_type_cols: list[str] = []
    active = df["active_days_30d"].clip(lower=1)
    for e in profile.event_types:
        t = e.name
        df[f"{t}_30d"] = df.get(f"{t}__c30", 0).fillna(0)
        df[f"{t}_prev_30d"] = df.get(f"{t}__c60", 0).fillna(0)
        df[f"{t}_change_pct"] = (
            100 * (df[f"{t}_30d"] - df[f"{t}_prev_30d"]) / df[f"{t}_prev_30d"].where(df[f"{t}_prev_30d"] > 0)
        )
        df[f"days_since_last_{t}"] = df.get(f"{t}__since")
        df[f"{t}_per_active_day"] = df[f"{t}_30d"] / active
        per_type_cols += [
            f"{t}_30d",
            f"{t}_prev_30d",
            f"{t}_change_pct",
            f"days_since_last_{t}",
            f"{t}_per_active_day",
        ]
        m = {"duration": "secs", "value": "val"}.get(e.measure)
        if m:
            df[f"{t}_{m}_30d"] = df.get(f"{t}__{m}30", 0).fillna(0)
            df[f"{t}_{m}_prev_30d"] = df.get(f"{t}__{m}60", 0).fillna(0)
            per_type_cols += [f"{t}_{m}_30d", f"{t}_{m}_prev_30d"]
    df["events_change_pct"] = (
        100
        * (df["events_30d"] - df["events_prev_30d"])
        / df["events_prev_30d"].where(df["events_prev_30d"] > 0)
    )
    df["events_30d_tenure_scaled"] = df["events_30d"] * 30 / df["tenure_days"].clip(lower=1, upper=30)
    for a in profile.attributes:
        if a.type == "date":
            df[a.feature_name] = (df["s"] - pd.to_datetime(df[a.name])).dt.days / 365.25
            df = df.drop(columns=[a.name])
        elif a.type == "boolean":
            df[a.name] = df[a.name].astype("float")
    df = df.drop(columns=[c for c in df.columns if "__" in c])
    df.attrs["per_type"] = per_type_cols
    return df


def _fit_auc(df: pd.DataFrame, features: list[str], test: pd.Timestamp, seed: int) -> tuple[float, float]:
    from catboost import CatBoostClassifier

    cats = [c for c in features if df[c].dtype == object or str(df[c].dtype) in ("string", "category")]
    x = df[features].copy()
    for c in cats:
        x[c] = x[c].astype(str)
    train, held = df["s"] < test, df["s"] == test
    model = CatBoostClassifier(
        iterations=500, depth=5, learning_rate=0.05, l2_leaf_reg=5, random_seed=seed, thread_count=2,
        one_hot_max_size=64, border_count=64, verbose=False, cat_features=cats,
    )  # fmt: skip
    model.fit(x[train], df.loc[train, "churned"].astype(int))
    p = model.predict_proba(x[held])[:, 1]
    y = df.loc[held, "churned"].astype(int)
    return float(roc_auc_score(y, p)), float(roc_auc_score(y, df.loc[held, "true_churn_prob"]))


def landing_gap(args: argparse.Namespace) -> None:
    from churn_platform.profile import load_profile

    profile = load_profile(args.profile)
    root = args.landing
    if args.simulate:
        from churn_platform.simulate.config import SimulationConfig
        from churn_platform.simulate.engine import simulate

        root = Path(tempfile.mkdtemp(prefix=f"oracle-gap-{profile.name}-")) if root is None else root
        began = time.perf_counter()
        summary = simulate(
            SimulationConfig(
                profile=args.profile,
                customers=args.customers,
                months=args.months,
                seed=args.seed,
                start=dt.date.fromisoformat(args.start),
                landing=root / "landing",
                ground_truth=root / "ground_truth",
            )
        )
        print(
            f"simulated {profile.name}: {args.customers:,} customers x {args.months} months in "
            f"{time.perf_counter() - began:.1f} s, monthly churn {summary.churn_rate:.2%}, "
            f"oracle ROC-AUC (all months) {summary.oracle_auc:.3f}, rows {summary.rows}"
        )
    if root is None:
        raise SystemExit("give --landing ROOT (a folder with landing/ and ground_truth/) or --simulate")
    began = time.perf_counter()
    df = landing_features(Path(root), profile)
    print(f"features from the landing files in {time.perf_counter() - began:.1f} s")
    test = df["s"].max()
    per_type = df.attrs["per_type"]
    totals = ["events_30d", "events_prev_30d", "events_change_pct", "active_days_30d", "days_since_last_event",
              "events_30d_tenure_scaled"]  # fmt: skip
    skip = {"customer_id", "s", "churned", "true_churn_prob", *per_type, *totals}
    static = [c for c in df.columns if c not in skip and df[c].notna().any()]
    rows = []
    for name, features in (
        ("per event type", per_type + totals + static),
        ("total count only", totals + static),
    ):
        began = time.perf_counter()
        model_auc, oracle = _fit_auc(df, features, test, args.seed)
        rows.append((name, len(features), model_auc, oracle))
        print(f"trained and scored '{name}' in {time.perf_counter() - began:.1f} s")
    held = df[df["s"] == test]
    print(
        f"snapshots {df['s'].min().date()} to {test.date()} (test), train rows {int((df['s'] < test).sum()):,}, "
        f"test rows {len(held):,}, churned {int(held['churned'].sum())}"
    )
    print(f"{'model':<18} {'features':>8} {'model AUC':>9} {'oracle AUC':>10} {'ratio':>6}")
    for name, n, model_auc, oracle in rows:
        print(f"{name:<18} {n:>8} {model_auc:>9.4f} {oracle:>10.4f} {model_auc / oracle:>6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--profile", default=None, help="Measure the simulator's learnability for this profile."
    )
    parser.add_argument(
        "--landing", type=Path, default=None, help="Root of a simulated company (landing/ ...)."
    )
    parser.add_argument("--simulate", action="store_true", help="Simulate the company first.")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default="2025-01-01")
    args = parser.parse_args()
    if args.profile is None:
        champion_gap(args.data_dir)
    else:
        landing_gap(args)


if __name__ == "__main__":
    main()
