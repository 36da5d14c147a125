"""Uplift x value targeting vs risk-only targeting at the same budget, judged on the simulator's truth.

Needs a platform data folder that has run (default: data/ after `bash scripts/run.sh`; a larger company from
`benchmarks/campaign_truth.py --keep DIR` is better). Steps:
1. a randomised experiment at the second-to-last snapshot: every active customer gets one of the four
   interventions or nothing (half are control), and churns with the simulator's response model,
   P(churn) = true untreated probability x (1 - true effect of what they received);
2. the platform's T-learner (ml/uplift.py) learns the effects from that history, with Qini/AUUC on held-out rows;
3. at the last snapshot, risk-only targeting (the champion's probability, the policy's playbook per churn
   factor) spends a budget; uplift x value targeting (P(churn) x uplift x value - cost, best intervention per
   customer) spends the same budget;
4. both selections are valued with the truth: sum of value x untreated churn probability x true effect - cost.
Usage: python benchmarks/uplift_targeting.py [--data-dir DIR] [--contacts 1000]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--contacts", type=int, default=1000, help="contacts risk-only targeting makes")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.data_dir:
        os.environ["CHURN_DATA_DIR"] = str(args.data_dir)
    from churn_platform.contract import INTERVENTIONS
    from churn_platform.lib.ml_pipeline import read_table
    from churn_platform.lib.retention.policy import load_retention_policy
    from churn_platform.settings import get_settings
    from ml.explain import shap_values, strongest_feature
    from ml.models import FeatureSpec
    from ml.policy import load_policy
    from ml.registry import get_alias
    from ml.score import assign_tiers, tier_cutoffs
    from ml.tracking import EXPLAINER, configure, load_churn_model, quiet_mlflow
    from ml.uplift import fit_uplift

    settings = get_settings()
    configure(settings.mlflow_uri, settings.mlflow_artifacts)
    retention = load_retention_policy(settings.retention_policy_path)
    churn_policy = load_policy(settings.policy_path)
    features = read_table(settings.warehouse, "select * from fct_customer_features")
    snapshots = sorted(pd.to_datetime(features["snapshot_date"]).dt.date.unique())
    with_truth = [s for s in snapshots if (settings.ground_truth / "monthly" / f"{s}.parquet").exists()]
    s1, s2 = with_truth[-2], with_truth[-1]
    effects = pd.read_parquet(settings.ground_truth / "customers.parquet").set_index("customer_id")
    values = read_table(settings.warehouse, "select customer_id, customer_value from ml.customer_value")
    median_value = float(values["customer_value"].median())
    rng = np.random.default_rng(args.seed)

    # 1. a randomised experiment at s1, outcomes from the simulator's response model
    exp = features[pd.to_datetime(features["snapshot_date"]).dt.date == s1].copy()
    truth1 = pd.read_parquet(settings.ground_truth / "monthly" / f"{s1}.parquet").set_index("customer_id")
    exp = exp[exp["customer_id"].isin(truth1.index)]
    exp["treated"] = rng.random(len(exp)) < 0.5
    exp["intervention"] = rng.choice(list(INTERVENTIONS), len(exp))
    tau = np.array(
        [effects.loc[c, f"effect_{k}"] for c, k in zip(exp["customer_id"], exp["intervention"], strict=True)]
    )
    p0 = truth1.loc[exp["customer_id"], "untreated_churn_prob"].to_numpy()
    exp["churned"] = rng.random(len(exp)) < np.where(exp["treated"], p0 * (1 - tau), p0)

    spec = FeatureSpec.infer(
        exp, exclude=("customer_id", "snapshot_date", "treated", "intervention", "churned")
    )
    uplift = fit_uplift(exp, spec, seed=args.seed)
    print(f"experiment at {s1}: {len(exp):,} customers, half control")
    print(f"{'intervention':<14} {'treated':>8} {'control':>8} {'Qini':>9} {'AUUC':>9}")
    for kind, m in uplift.metrics.items():
        qini, auuc = (f"{m['qini']:>9.5f}", f"{m['auuc']:>9.5f}") if "qini" in m else ("  skipped", "")
        print(f"{kind:<14} {int(m['treated']):>8} {int(m['control']):>8} {qini} {auuc}")

    # 2. the last snapshot: the champion's probabilities, playbooks, uplift
    pool = features[pd.to_datetime(features["snapshot_date"]).dt.date == s2].copy()
    truth2 = pd.read_parquet(settings.ground_truth / "monthly" / f"{s2}.parquet").set_index("customer_id")
    pool = pool[pool["customer_id"].isin(truth2.index)].reset_index(drop=True)
    champion = get_alias(settings.model_name)
    assert champion is not None, "run the platform first"
    with quiet_mlflow():
        model = load_churn_model(champion.uri)
        explainer = load_churn_model(f"models:/{settings.model_name}@{EXPLAINER}")
    pool["p"] = model.predict_proba(pool)
    pool["tier"] = assign_tiers(
        pool["p"].to_numpy(), tier_cutoffs(pool["p"].to_numpy(), churn_policy.risk_tiers)
    )
    pool = pool.merge(values, on="customer_id", how="left").fillna({"customer_value": median_value})
    cost = {k: v.cost for k, v in retention.interventions.items()}
    p_true = truth2.loc[pool["customer_id"], "untreated_churn_prob"].to_numpy()

    def true_value(rows: pd.DataFrame, kinds: list[str]) -> float:
        idx = rows.index.to_numpy()
        gain = [
            pool.loc[i, "customer_value"] * p_true[i] * effects.loc[pool.loc[i, "customer_id"], f"effect_{k}"]
            - cost[k]
            for i, k in zip(idx, kinds, strict=True)
        ]
        return float(np.sum(gain))

    # risk-only: riskiest first, the policy's playbook for their strongest churn factor
    risky = pool.sort_values("p", ascending=False).head(args.contacts)
    top = strongest_feature(shap_values(explainer, risky), explainer.spec.columns)
    kinds_risk = []
    for tier, feature in zip(risky["tier"], top, strict=True):
        book = retention.playbook_for(tier if tier != "low" else "medium", retention.factor_of(feature))
        kinds_risk.append(book.intervention if book else "feature_trial")
    budget = sum(cost[k] for k in kinds_risk)
    value_risk = true_value(risky, kinds_risk)

    # uplift x value: best expected net value per customer, greedily within the same budget
    predicted = uplift.predict(pool)
    columns = [c for c in predicted if c.startswith("uplift_")]
    net = np.stack(
        [
            pool["p"] * predicted[c] * pool["customer_value"] - cost[c.removeprefix("uplift_")]
            for c in columns
        ],
        axis=1,
    )
    best = net.argmax(axis=1)
    pool["net"] = net[np.arange(len(pool)), best]
    pool["kind"] = [columns[j].removeprefix("uplift_") for j in best]
    chosen, spent = [], 0.0
    for i in pool.sort_values("net", ascending=False).index:
        if pool.loc[i, "net"] <= 0 or spent + cost[pool.loc[i, "kind"]] > budget:
            continue
        chosen.append(i)
        spent += cost[pool.loc[i, "kind"]]
    picked = pool.loc[chosen]
    value_uplift = true_value(picked, list(picked["kind"]))
    print(f"\ntargeting at {s2} with a budget of {budget:,.0f} (risk-only makes {args.contacts:,} contacts)")
    print(f"{'policy':<22} {'contacts':>8} {'spent':>10} {'true net value':>15}")
    print(f"{'risk only':<22} {len(risky):>8,} {budget:>10,.0f} {value_risk:>15,.0f}")
    print(f"{'uplift x value':<22} {len(picked):>8,} {spent:>10,.0f} {value_uplift:>15,.0f}")


if __name__ == "__main__":
    main()
