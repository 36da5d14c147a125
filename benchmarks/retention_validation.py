"""Are the retention platform's intervals honest, its design right, and its policy worth it? Checked on the
simulator's ground truth. Prints three tables.

1. Interval coverage (``--campaigns``, default 400): campaigns drawn from the high-risk customers (top 15% by
   true churn probability) of a simulated company. Each campaign randomises every customer, in two waves with
   different Thompson-like allocations per segment, to the global holdout (5%), the campaign control (10% of
   the rest) or one of four interventions; each customer churns with the simulator's response model,
   P = untreated probability x (1 - their true effect of what they got). The platform's own estimator
   (``churn_platform.lib.retention.outcomes.playbook_effects``: both waves pooled, inverse assignment
   probability weights, raw and CUPED-adjusted on a model-like noisy churn probability) gives a 95% interval
   per arm and for the playbook; the truth is the mean true effect over the campaign's customers. Statistics
   only: outcomes are drawn from the truth directly, no pipeline (that is part 3).
2. Power at the designed MDE: the design (``ml.experiment.sample_size``) sizes treated and control for the
   policy's smallest effect worth detecting at the pool's baseline churn; campaigns of that size whose true
   effect is exactly that size; the share whose interval excludes zero.
3. Net value over ``--months`` monthly periods on one company of ``--customers`` (real simulator and pipeline:
   ingest, dbt, scoring, reasons, value, decisions, delivery to the outbox, the next simulated month reading
   the send ledger, outcomes, uplift model). Each month the policy decides under a budget; the same month's
   contactable customers (actionable tier, valuable, consent, not unsubscribed, outside the cooldown) are
   also targeted counterfactually by (a) risk-only with one playbook (riskiest first, the re-engage
   playbook's default arm for everyone) and (c) the oracle that knows every customer's true churn probability
   and true effect of each intervention, both at the same budget. Every selection is valued with the truth:
   sum of value x true untreated churn probability x true effect - cost. Also shown: the "feature oracle",
   which knows the true effect averaged over customers who look alike (segment x price-to-list band); it is
   the ceiling of any policy that sees only what the platform sees, since the simulator draws who is
   persuadable (and how much by training or a trial) from latent traits.

Usage: python benchmarks/retention_validation.py [--campaigns 400] [--customers 60000] [--months 6]
       [--budget-share 0.3] [--keep DIR] [--skip-loop] [--skip-coverage]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

INTERVENTIONS = ("discount", "success_call", "training", "feature_trial")
ROOT = Path(__file__).resolve().parents[1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def high_risk_pool(ground_truth: Path, share: float = 0.15) -> pd.DataFrame:
    """The riskiest ``share`` of the last simulated month's at-risk customers, with their true effects."""
    months = sorted((ground_truth / "monthly").glob("*.parquet"))
    truth = pd.read_parquet(months[-1], columns=["customer_id", "untreated_churn_prob"])
    effects = pd.read_parquet(ground_truth / "customers.parquet")
    state = pd.read_parquet(ground_truth / "state" / "customers.parquet", columns=["segment"])
    effects["segment"] = state["segment"].to_numpy()[: len(effects)]
    pool = truth.merge(effects, on="customer_id")
    cut = pool["untreated_churn_prob"].quantile(1 - share)
    return pool[pool["untreated_churn_prob"] >= cut].reset_index(drop=True)


# ------------------------------------------------------------------------------------------- coverage


def _campaign(
    pool: pd.DataFrame, size: int, seed: int, holdout: float, control: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    """One two-wave campaign: decisions (as the platform logs them) with outcomes from the truth, and the true
    effect per arm (``all``: of the playbook as allocated)."""
    rng = np.random.default_rng(seed)
    rows = pool.iloc[rng.choice(len(pool), size=min(size, len(pool)), replace=False)].reset_index(drop=True)
    n, k = len(rows), len(INTERVENTIONS)
    p0 = rows["untreated_churn_prob"].to_numpy()
    tau = rows[[f"effect_{a}" for a in INTERVENTIONS]].to_numpy()
    wave = rng.random(n) < 0.5
    # wave 1: uniform among arms; wave 2: each segment's own allocation (as Thompson sampling moves it)
    per_segment = rng.dirichlet(np.ones(k) * 2, size=3)
    floor = 0.1
    within = np.where(
        wave[:, None], 1.0 / k, floor + (1 - k * floor) * per_segment[rows["segment"].to_numpy().astype(int)]
    )
    p_control = holdout + (1 - holdout) * control
    u = rng.random(n)
    is_holdout = u < holdout
    is_control = ~is_holdout & (u < p_control)
    treated = ~(is_holdout | is_control)
    arm = (rng.random(n)[:, None] >= np.cumsum(within, axis=1)).sum(axis=1).clip(max=k - 1)
    p = np.where(treated, p0 * (1 - tau[np.arange(n), arm]), p0)
    churned = rng.random(n) < p
    noisy = 1 / (1 + np.exp(-(_logit(p0) + rng.normal(0, 0.7, n))))
    share = (1 - p_control) * within
    decisions = pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "snapshot_date": np.where(wave, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")),
            "decision": np.where(is_holdout, "holdout", np.where(is_control, "control", "treat")),
            "arm": np.where(treated, np.array(INTERVENTIONS, dtype=object)[arm], "control"),
            "playbook": "pooled",
            "risk_tier": "high",
            "customer_value": 1000.0,
            "offer_cost": np.where(treated, 10.0, 0.0),
            "churn_probability": noisy,
            "control_probability": p_control,
            "assignment_probability": np.where(treated, share[np.arange(n), arm], p_control),
            "arm_probabilities": [
                json.dumps(dict(zip(INTERVENTIONS, map(float, s), strict=True))) for s in share
            ],
        }
    )
    truth = {a: float(np.mean(p0 * tau[:, j])) for j, a in enumerate(INTERVENTIONS)}
    truth["all"] = float(np.mean((within * tau).sum(axis=1) * p0))
    return decisions.assign(churned=churned), truth


def coverage_study(pool: pd.DataFrame, campaigns: int, size: int, seed: int) -> pd.DataFrame:
    """Per campaign and arm (and the playbook, ``all``): raw and adjusted intervals against the truth."""
    from churn_platform.lib.retention.outcomes import playbook_effects
    from churn_platform.lib.retention.policy import ExperimentPolicy

    design = ExperimentPolicy()
    out = []
    for c in range(campaigns):
        frame, truth = _campaign(pool, size, seed + c, design.global_holdout, 0.10)
        effects = playbook_effects(frame.drop(columns=["churned"]), frame, design)
        for row in effects.to_dict("records"):
            target = truth[row["arm"]]
            out.append(
                {
                    "campaign": c,
                    "arm": row["arm"],
                    "truth": target,
                    "raw": row["save_rate"],
                    "raw_covered": row["save_rate_low"] <= target <= row["save_rate_high"],
                    "adjusted": row["save_rate_adjusted"],
                    "adjusted_covered": row["save_rate_adjusted_low"]
                    <= target
                    <= row["save_rate_adjusted_high"],
                    "width_raw": row["save_rate_high"] - row["save_rate_low"],
                    "width_adjusted": row["save_rate_adjusted_high"] - row["save_rate_adjusted_low"],
                }
            )
    return pd.DataFrame(out)


def power_study(pool: pd.DataFrame, campaigns: int, seed: int, mde: float) -> dict[str, Any]:
    """Campaigns sized by the design for ``mde`` whose true effect is exactly ``mde``."""
    from ml.experiment import estimate_effect, sample_size

    p0_pool = pool["untreated_churn_prob"].to_numpy()
    baseline = float(p0_pool.mean())
    n_t, n_c = sample_size(baseline, mde)
    relative = mde / baseline
    hits = {"raw": 0, "adjusted": 0}
    covered = {"raw": 0, "adjusted": 0}
    for c in range(campaigns):
        rng = np.random.default_rng(seed + 10_000 + c)
        p0 = p0_pool[rng.choice(len(p0_pool), size=n_t + n_c, replace=True)]
        treated = np.zeros(n_t + n_c, dtype=bool)
        treated[rng.permutation(n_t + n_c)[:n_t]] = True
        churned = rng.random(n_t + n_c) < np.where(treated, p0 * (1 - relative), p0)
        noisy = 1 / (1 + np.exp(-(_logit(p0) + rng.normal(0, 0.7, len(p0)))))
        truth = relative * float(p0.mean())
        for name, cov in (("raw", None), ("adjusted", noisy)):
            est = estimate_effect(churned, treated, covariate=cov)
            hits[name] += int(est.low > 0)
            covered[name] += int(est.low <= truth <= est.high)
    return {
        "baseline": baseline,
        "mde": mde,
        "treated": n_t,
        "control": n_c,
        "power_raw": hits["raw"] / campaigns,
        "power_adjusted": hits["adjusted"] / campaigns,
        "coverage_raw": covered["raw"] / campaigns,
        "coverage_adjusted": covered["adjusted"] / campaigns,
    }


# ------------------------------------------------------------------------------------------- loop


def _env(data: Path, policy: Path, customers: int) -> None:
    os.environ.update(
        {
            "CHURN_DATA_DIR": str(data),
            "CHURN_RETENTION_POLICY_PATH": str(policy),
            "CHURN_DEMO_CUSTOMERS": str(customers),
            "DAGSTER_HOME": str(data / "dagster"),
        }
    )


REACHABLE = ["treat", "control", "holdout", "negative_value", "over_capacity"]


def reachable_customers(warehouse: Path, policy_path: Path) -> int:
    """Customers the latest scoring would let a campaign reach (actionable tier, valuable, a playbook, consent,
    not unsubscribed): what the budget is sized against."""
    from churn_platform.lib.ml_pipeline import read_table
    from churn_platform.lib.retention.pipeline import _contact_state
    from churn_platform.lib.retention.policy import load_retention_policy
    from churn_platform.lib.retention.targets import select_targets

    policy = load_retention_policy(policy_path).model_copy(update={"budget": None})
    scores = read_table(warehouse, "select * from ml.churn_scores")
    values = read_table(warehouse, "select * from ml.customer_value")
    contacts = pd.DataFrame(
        {"customer_id": pd.Series(dtype=str), "last_contacted_on": pd.Series(dtype="datetime64[ns]")}
    )
    day = pd.Timestamp(scores["snapshot_date"].max()).date()
    targets = select_targets(scores, values, _contact_state(warehouse), contacts, policy, day, ranking="risk")
    return int(targets["decision"].isin(REACHABLE).sum())


def _benchmark_policy(folder: Path, budget: float | None) -> Path:
    """The shipped retention policy with a budget per campaign and capacity that the budget binds first."""
    import yaml

    doc = yaml.safe_load((ROOT / "churn_platform" / "policies" / "retention_policy.yaml").read_text())
    doc["budget"] = budget
    for channel in doc["channels"].values():
        channel["daily_capacity"] = max(int(channel["daily_capacity"]), 100_000)
    path = folder / "retention_policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _run(selection: Any, title: str, run_config: dict[str, Any] | None = None) -> float:
    import dagster as dg

    from churn_platform.definitions import defs as lazy_defs

    defs = lazy_defs()
    job = defs.resolve_implicit_global_asset_job_def()
    keys = dg.AssetSelection.from_coercible(selection).resolve(defs.resolve_asset_graph())
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        asset_selection=list(keys),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}, **(run_config or {})},
    )
    seconds = time.perf_counter() - started
    if not result.success:
        failures = [e.step_key for e in result.all_events if e.is_step_failure]
        raise SystemExit(f"{title} failed at {failures}")
    print(f"  {title}: {seconds:.0f} s", file=sys.stderr)
    return seconds


def _value_selection(pool: pd.DataFrame, score: np.ndarray, kind: np.ndarray, budget: float,
                     cost: dict[str, float]) -> np.ndarray:  # fmt: skip
    """Greedy by ``score`` (positive only) within the budget: a boolean mask of who is contacted."""
    order = np.argsort(-score, kind="stable")
    chosen = np.zeros(len(pool), dtype=bool)
    left = budget
    for i in order:
        if score[i] <= 0:
            break
        c = cost[kind[i]]
        if c <= left:
            chosen[i] = True
            left -= c
    return chosen


def _best_selection(
    pool: pd.DataFrame, net: np.ndarray, budget: float, cost: dict[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The best (on ``net``, what the selector believes) of three knapsack rules within the budget: greedy by
    net value and by net value per cost (each with the arm of the highest net value), and the budget's shadow
    price (the arm worth most at that price). Returns (chosen, arm per customer)."""
    costs = np.array([cost[a] for a in INTERVENTIONS])
    best = net.argmax(axis=1)
    kinds = np.array(INTERVENTIONS, dtype=object)[best]
    top = net[np.arange(len(pool)), best]
    options = [
        (_value_selection(pool, top, kinds, budget, cost), best),
        (_value_selection(pool, np.where(top > 0, top / costs[best], 0.0), kinds, budget, cost), best),
    ]
    # the budget's shadow price (the platform's own rule, with no control group)
    from churn_platform.lib.retention.targets import shadow_price

    gain = net + costs[None, :]
    price = shadow_price(gain, costs, np.ones_like(net, dtype=bool), budget, 0.0)
    worth = gain - (1 + price) * costs[None, :]
    priced = worth.argmax(axis=1)
    kinds_priced = np.array(INTERVENTIONS, dtype=object)[priced]
    options.append((_value_selection(pool, worth.max(axis=1), kinds_priced, budget, cost), priced))
    chosen, arm = max(options, key=lambda o: float(net[np.arange(len(pool)), o[1]][o[0]].sum()))
    return chosen, arm


def evaluate_month(data: Path, snapshot: dt.date, budget: float) -> dict[str, float]:
    """True net value at ``snapshot`` of this policy's decisions, risk-only, the feature oracle and the oracle."""
    from churn_platform.lib.ml_pipeline import read_table
    from churn_platform.lib.retention.policy import load_retention_policy

    policy = load_retention_policy(Path(os.environ["CHURN_RETENTION_POLICY_PATH"]))
    cost = {k: v.cost for k, v in policy.interventions.items()}
    decisions = read_table(
        data / "warehouse.duckdb",
        f"select * from retention.decisions where snapshot_date = date '{snapshot}'",
    )
    truth = pd.read_parquet(data / "ground_truth" / "monthly" / f"{snapshot}.parquet")
    effects = pd.read_parquet(data / "ground_truth" / "customers.parquet")
    state = pd.read_parquet(
        data / "ground_truth" / "state" / "customers.parquet", columns=["mrr", "plan", "segment"]
    )
    effects = effects.assign(**{f"true_{c}": state[c].to_numpy()[: len(effects)] for c in state.columns})
    reachable = decisions[
        decisions["decision"].isin(["treat", "control", "holdout", "negative_value", "over_capacity"])
    ]
    pool = reachable.merge(truth[["customer_id", "untreated_churn_prob"]], on="customer_id").merge(
        effects, on="customer_id"
    )
    p0 = pool["untreated_churn_prob"].to_numpy()
    v = pool["customer_value"].fillna(0.0).to_numpy()
    tau = pool[[f"effect_{a}" for a in INTERVENTIONS]].to_numpy()
    costs = np.array([cost[a] for a in INTERVENTIONS])
    true_net = p0[:, None] * tau * v[:, None] - costs[None, :]
    out: dict[str, float] = {"reachable": float(len(pool))}

    # (b) this policy, as decided (control and holdout are not contacted: they earn and cost nothing)
    treated = (pool["decision"] == "treat").to_numpy()
    j = np.array([INTERVENTIONS.index(a) if a in INTERVENTIONS else 0 for a in pool["arm"].fillna("")])
    out["policy"] = float(true_net[np.arange(len(pool)), j][treated].sum())
    out["policy_spent"] = float(costs[j][treated].sum())
    out["policy_contacts"] = float(treated.sum())
    spend = budget

    # (a) risk-only: riskiest first, one playbook's default arm (the re-engage playbook: training by email)
    one = next(pb for pb in policy.playbooks if pb.name == "re-engage").intervention
    k1 = INTERVENTIONS.index(one)
    chosen = _value_selection(pool, pool["churn_probability"].to_numpy() + 1.0, np.array([one] * len(pool)),
                              spend, cost)  # fmt: skip
    out["risk_only"] = float(true_net[chosen, k1].sum())
    out["risk_only_contacts"] = float(chosen.sum())

    # (c) the oracle: true probability and true effect of every intervention
    chosen, best = _best_selection(pool, true_net, spend, cost)
    out["oracle"] = float(true_net[np.arange(len(pool)), best][chosen].sum())
    out["oracle_contacts"] = float(chosen.sum())

    # the feature oracle: true probability, effect averaged over look-alikes (segment x price-to-list decile)
    from churn_platform.simulate.parameters import load_simulated_company

    company = load_simulated_company()
    list_price = company.plan_price[pool["true_plan"].to_numpy().astype(int)]
    seats = company.seat_median[pool["true_segment"].to_numpy().astype(int)]
    ratio = np.log(pool["true_mrr"].to_numpy() / (list_price * seats))
    price = pd.qcut(ratio, 10, labels=False, duplicates="drop")
    groups = pd.DataFrame(tau, columns=list(INTERVENTIONS)).groupby(
        [pool["true_segment"].to_numpy(), np.asarray(price)]
    )
    mean_tau = groups.transform("mean").to_numpy()
    expected = p0[:, None] * mean_tau * v[:, None] - costs[None, :]
    best = expected.argmax(axis=1)
    chosen = _value_selection(
        pool, expected.max(axis=1), np.array(INTERVENTIONS, dtype=object)[best], spend, cost
    )
    out["feature_oracle"] = float(true_net[np.arange(len(pool)), best][chosen].sum())
    return out


def closed_loop(
    data: Path, customers: int, months: int, budget_share: float, seed: int
) -> tuple[pd.DataFrame, float]:
    """``months`` monthly periods of the real pipeline deciding with this issue's policy; see the module doc.
    The monthly budget is ``budget_share`` of what contacting every reachable customer of the first month with
    the risk-only playbook would cost. Returns the table per month and the budget."""
    import shutil

    import dagster as dg

    from churn_platform.simulate.config import SimulationConfig
    from churn_platform.simulate.engine import simulate

    # period 0 (a year of history, training) is kept beside the loop and restored for a new run; at the same
    # absolute path, since MLflow and Dagster record absolute locations
    saved = data.with_name(data.name + ".period0")
    if saved.exists():
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(saved, data, symlinks=True)
    data.mkdir(parents=True, exist_ok=True)
    policy_path = _benchmark_policy(data, None)
    _env(data, policy_path, customers)
    from churn_platform.lib.environment import prepare_dagster_home, quiet_telemetry
    from churn_platform.settings import get_settings

    quiet_telemetry()
    settings = get_settings()
    prepare_dagster_home(settings.dagster)
    ledger = settings.ledger_export
    if not (data / "ground_truth" / "summary.json").exists():
        simulate(SimulationConfig(customers=customers, months=12, seed=seed, landing=settings.landing,
                                  ground_truth=settings.ground_truth))  # fmt: skip
    everything = dg.AssetSelection.all()
    campaign = dg.AssetSelection.assets("retention_targets", "campaign_sends", "send_ledger_export")
    skip = (
        campaign.downstream()
        | dg.AssetSelection.groups("monitoring", "publish")
        | dg.AssetSelection.assets("campaign_outcomes", "uplift_model")
    )
    training = dg.AssetSelection.assets("churn_model_candidates", "champion_model")
    targeting = {"ops": {"retention_targets": {"config": {"only_tier_risers": False}}}}
    results = []
    meta = data / "ground_truth" / "state" / "meta.json"
    if not (data / "warehouse.duckdb").exists():
        _run(everything - skip, "period 0: ingest, marts, training, scores, reasons, value")
        shutil.copytree(data, saved, symlinks=True)
    from churn_platform.lib.retention.policy import load_retention_policy

    one = next(pb for pb in load_retention_policy(policy_path).playbooks if pb.name == "re-engage")
    unit = load_retention_policy(policy_path).interventions[one.intervention].cost
    reachable = reachable_customers(settings.warehouse, policy_path)
    budget = round(budget_share * reachable * unit, -2)
    _benchmark_policy(data, budget)
    print(f"{reachable:,} reachable customers: budget {budget:,.0f} per month", file=sys.stderr)
    for m in range(months):
        state = json.loads(meta.read_text())
        start = dt.date.fromisoformat(state["start"])
        months_in = start.month - 1 + int(state["next_month"])
        snapshot = dt.date(start.year + months_in // 12, months_in % 12 + 1, 1)
        print(f"month {m + 1}/{months}: campaign at {snapshot}", file=sys.stderr)
        _run(campaign, "decide, deliver, export the ledger", targeting)
        simulate(
            SimulationConfig(customers=customers, months=12, seed=seed, landing=settings.landing,
                             ground_truth=settings.ground_truth, ledger=ledger),
            advance_months=1,
        )  # fmt: skip
        _run(everything - skip - training, "the next month: ingest, marts, scores, reasons, value")
        _run(dg.AssetSelection.assets("campaign_outcomes", "uplift_model"), "outcomes, uplift model")
        row = {"month": m + 1, "snapshot": str(snapshot), **evaluate_month(data, snapshot, budget)}
        results.append(row)
        print(f"  {row}", file=sys.stderr)
    return pd.DataFrame(results), budget


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--campaigns", type=int, default=400)
    parser.add_argument("--campaign-size", type=int, default=4000)
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument(
        "--budget-share", type=float, default=0.3,
        help="monthly offer budget as a share of contacting every reachable customer with the risk-only playbook",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="data folder of the closed loop (reused)")
    parser.add_argument("--skip-loop", action="store_true")
    parser.add_argument("--skip-coverage", action="store_true")
    args = parser.parse_args()
    data = args.keep or Path(tempfile.mkdtemp(prefix="retention-validation-"))
    truth_dir = data / "ground_truth"

    if not args.skip_coverage:
        if not (truth_dir / "summary.json").exists():
            from churn_platform.simulate.config import SimulationConfig
            from churn_platform.simulate.engine import simulate

            simulate(SimulationConfig(customers=args.customers, months=12, seed=args.seed,
                                      landing=data / "landing", ground_truth=truth_dir))  # fmt: skip
        from churn_platform.lib.retention.policy import ExperimentPolicy

        pool = high_risk_pool(truth_dir)
        started = time.perf_counter()
        cov = coverage_study(pool, args.campaigns, args.campaign_size, args.seed)
        mde = ExperimentPolicy().minimum_effect
        power = power_study(pool, args.campaigns, args.seed, mde)
        seconds = time.perf_counter() - started
        print(f"\n1. Interval coverage: {args.campaigns} campaigns of {min(args.campaign_size, len(pool)):,} "
              f"high-risk customers (pool {len(pool):,}, mean true churn {pool['untreated_churn_prob'].mean():.1%}), "
              f"two waves pooled, 95% intervals ({seconds:.0f} s)")  # fmt: skip
        print(f"{'arm':<14} {'intervals':>9} {'true effect':>11} {'raw cover':>9} {'CUPED cover':>11} "
              f"{'raw width':>9} {'CUPED width':>11}")  # fmt: skip
        for arm, g in [*cov.groupby("arm"), ("every arm", cov)]:
            print(f"{arm:<14} {len(g):>9} {g['truth'].mean():>11.2%} {g['raw_covered'].mean():>9.1%} "
                  f"{g['adjusted_covered'].mean():>11.1%} {g['width_raw'].mean():>9.2%} "
                  f"{g['width_adjusted'].mean():>11.2%}")  # fmt: skip
        print(f"\n2. Power at the designed MDE: {args.campaigns} campaigns, baseline churn {power['baseline']:.1%}, "
              f"MDE {power['mde']:.1%} -> design {power['treated']:,} treated + {power['control']:,} control")  # fmt: skip
        print(f"{'estimate':<10} {'power':>7} {'coverage':>9}")
        print(f"{'raw':<10} {power['power_raw']:>7.1%} {power['coverage_raw']:>9.1%}")
        print(f"{'CUPED':<10} {power['power_adjusted']:>7.1%} {power['coverage_adjusted']:>9.1%}")

    if not args.skip_loop:
        loop_dir = data / "loop"
        started = time.perf_counter()
        table, budget = closed_loop(loop_dir, args.customers, args.months, args.budget_share, args.seed)
        seconds = time.perf_counter() - started
        print(f"\n3. True net value over {args.months} months, {args.customers:,} customers, budget "
              f"{budget:,.0f} per month ({args.budget_share:.0%} of contacting every reachable customer; "
              f"{seconds / 60:.0f} min; data in {loop_dir})")  # fmt: skip
        cols = ["month", "snapshot", "reachable", "risk_only", "policy", "feature_oracle", "oracle",
                "policy_spent", "policy_contacts", "risk_only_contacts", "oracle_contacts"]  # fmt: skip
        print(table[cols].round(0).to_string(index=False))
        total = table[["risk_only", "policy", "feature_oracle", "oracle"]].sum()
        print(f"\n{'policy':<28} {'true net value':>15} {'vs risk-only':>13} {'vs oracle':>10}")
        for name, label in (("risk_only", "(a) risk-only, one playbook"), ("policy", "(b) this policy"),
                            ("feature_oracle", "feature oracle (ceiling)"), ("oracle", "(c) oracle")):  # fmt: skip
            print(f"{label:<28} {total[name]:>15,.0f} {total[name] / total['risk_only']:>12.2f}x "
                  f"{total[name] / total['oracle']:>9.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
