"""Models, the promotion gate, scores with tiers and reasons, tier changes and customer value."""

import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd

from churn_platform.defs.ml.resources import MlflowResource, PolicyResource
from churn_platform.defs.resources import WarehouseResource
from churn_platform.lib.ml_pipeline import (
    promote,
    read_table,
    score_customers,
    tier_changes,
    train_and_judge,
    value_customers,
    write_tables,
)
from ml.registry import get_alias
from ml.train import TrainConfig

TRAINING_SET = dg.AssetKey("ml_training_set")
SCORING_SET = dg.AssetKey("ml_scoring_set")
DIM_CUSTOMERS = dg.AssetKey("dim_customers")
CANDIDATES = dg.AssetKey("churn_model_candidates")


class TrainingConfig(dg.Config):
    """Knobs an ML engineer turns from the launchpad."""

    search_budget_seconds: float = 0.0
    seed: int = 42


def _newest_snapshot(warehouse: WarehouseResource) -> str:
    newest = read_table(warehouse.path_obj, "select max(snapshot_date) as d from ml_scoring_set")["d"].iloc[0]
    return f"{pd.Timestamp(newest):%Y-%m-%d}" if pd.notna(newest) else ""


@dg.asset(
    key=CANDIDATES,
    deps=[TRAINING_SET],
    group_name="ml",
    kinds={"mlflow", "catboost", "scikitlearn"},
    description="Logistic regression, random forest and CatBoost trained on ml_training_set with a time "
    "split, calibrated, logged to MLflow and registered; the best is judged against the champion.",
    check_specs=[
        dg.AssetCheckSpec(
            "beats_champion",
            asset=CANDIDATES,
            blocking=True,
            description="The best candidate beats the current champion on the same validation window by the "
            "policy margin (or, with no champion yet, clears the floor). Only then does the alias move.",
        )
    ],
)
def churn_model_candidates(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    policy: PolicyResource,
) -> dg.MaterializeResult:
    mlflow.setup()
    rules = policy.load()
    with tempfile.TemporaryDirectory() as tmp:
        outcome = train_and_judge(
            warehouse.path_obj,
            mlflow.model_name,
            rules,
            TrainConfig(search_budget_seconds=config.search_budget_seconds, seed=config.seed),
            Path(tmp),
            progress=context.log.info,
        )
    context.log.info(outcome.decision.reason)
    table = outcome.metrics_table[["version", "roc_auc", "pr_auc", "brier", "ece", "lift_top_decile", "emp"]]
    decision = outcome.decision
    return dg.MaterializeResult(
        metadata={
            "candidates": dg.MetadataValue.md(table.round(4).to_markdown()),
            "best_model": outcome.best.kind,
            "best_version": outcome.best_version,
            "explainer_version": outcome.catboost_version or "",
            "validation_snapshot": outcome.validation_snapshot,
            # the newest snapshot this round could see: the drift sensor does not retrain on it again
            "data_snapshot": _newest_snapshot(warehouse),
            "decision": "promote" if decision.promote else "keep",
            "decision_reason": decision.reason,
            "mlflow_tracking_uri": mlflow.tracking_uri,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="beats_champion",
                passed=decision.promote,
                # below the floor with no champion at all: nothing can be scored, stop downstream;
                # merely not better than the champion: the champion keeps serving (a warning)
                severity=dg.AssetCheckSeverity.ERROR if decision.below_floor else dg.AssetCheckSeverity.WARN,
                description=decision.reason,
                metadata={
                    "candidate": dg.MetadataValue.float(decision.candidate_score),
                    "champion": dg.MetadataValue.float(decision.champion_score or float("nan")),
                    "champion_version": outcome.champion_version or "none",
                },
            )
        ],
    )


@dg.asset(
    deps=[CANDIDATES],
    group_name="ml",
    kinds={"mlflow"},
    description="Moves the MLflow `champion` alias to the round's best model when the gate says so.",
)
def champion_model(context: dg.AssetExecutionContext, mlflow: MlflowResource) -> dg.MaterializeResult:
    mlflow.setup()
    event = context.instance.get_latest_materialization_event(CANDIDATES)
    if event is None or event.asset_materialization is None:
        raise dg.Failure("churn_model_candidates has never been materialized")
    meta = event.asset_materialization.metadata
    decision = str(meta["decision"].value)
    version = str(meta["best_version"].value)
    if decision == "promote":
        promote(mlflow.model_name, version, str(meta["explainer_version"].value) or None)
        context.log.info(f"champion is now version {version}")
    champion = get_alias(mlflow.model_name)
    if champion is None:
        raise dg.Failure("no champion: the first candidate did not clear the policy floor")
    return dg.MaterializeResult(
        metadata={
            "champion_version": champion.version,
            "promoted_this_run": decision == "promote",
            "reason": str(meta["decision_reason"].value),
            "model_uri": champion.uri,
        }
    )


@dg.asset(
    deps=[champion_model, SCORING_SET],
    group_name="ml",
    kinds={"duckdb", "mlflow"},
    description="Every active customer at the latest snapshot: calibrated churn probability, risk tier "
    "(policy thresholds), top three reasons in words (CatBoost SHAP, for the tiers the policy names), model "
    "and policy versions. Table ml.churn_scores; history in ml.churn_score_history.",
)
def churn_scores(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    policy: PolicyResource,
) -> dg.MaterializeResult:
    mlflow.setup()
    outcome = score_customers(warehouse.path_obj, mlflow.model_name, policy.load(), progress=context.log.info)
    write_tables(
        warehouse.path_obj,
        {"ml.churn_scores": outcome.scores, "ml.churn_score_history": outcome.scores},
        append=("ml.churn_score_history",),
    )
    tiers = (
        outcome.scores["risk_tier"].value_counts().reindex(["critical", "high", "medium", "low"]).fillna(0)
    )
    sample = outcome.scores.sort_values("churn_probability", ascending=False).head(10)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(outcome.scores)),
            "model_version": outcome.model_version,
            "tiers": dg.MetadataValue.md(tiers.astype(int).to_frame("customers").to_markdown()),
            "explained_customers": dg.MetadataValue.int(outcome.explained),
            "seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in outcome.seconds.items()}),
            "riskiest": dg.MetadataValue.md(
                sample[
                    ["customer_id", "churn_probability", "risk_tier", "reason_1", "reason_2", "reason_3"]
                ].to_markdown(index=False)
            ),
        }
    )


@dg.asset(
    deps=[churn_scores],
    group_name="ml",
    kinds={"duckdb"},
    description="Customers whose risk tier changed since the previous snapshot (up, down, new): the latest "
    "scoring run of this snapshot against the latest of the one before, so re-scoring a month with a retrained "
    "model never reads as a change. Table ml.risk_tier_changes; the campaign sensor reads it.",
)
def risk_tier_changes(warehouse: WarehouseResource) -> dg.MaterializeResult:
    history = read_table(
        warehouse.path_obj,
        "with runs as (select snapshot_date, max(scored_at) as scored_at from ml.churn_score_history "
        "group by snapshot_date order by snapshot_date desc limit 2) "
        "select * from ml.churn_score_history where scored_at in (select scored_at from runs)",
    )
    runs = sorted(history["scored_at"].unique())
    current = history[history["scored_at"] == runs[-1]]
    previous = history[history["scored_at"] == runs[-2]] if len(runs) > 1 else current.iloc[0:0]
    changes = tier_changes(previous, current)
    changes["scored_at"] = runs[-1]
    changes["snapshot_date"] = current["snapshot_date"].max() if len(current) else pd.NaT
    changes["model_version"] = str(current["model_version"].iloc[0]) if len(current) else None
    write_tables(warehouse.path_obj, {"ml.risk_tier_changes": changes})
    counts = changes.groupby(["direction", "current_tier"]).size().rename("customers").reset_index()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(changes)),
            "moved_up": dg.MetadataValue.int(int((changes["direction"] == "up").sum())),
            "changes": dg.MetadataValue.md(counts.to_markdown(index=False) if len(counts) else "none"),
        }
    )


@dg.asset(
    deps=[DIM_CUSTOMERS, churn_scores],
    group_name="ml",
    kinds={"duckdb", "lifelines"},
    description="Expected value of keeping each active customer: margin x MRR x expected remaining lifetime "
    "(lifelines Weibull AFT survival), and whether it is worth trying to (policy). Table ml.customer_value.",
)
def customer_value(warehouse: WarehouseResource, policy: PolicyResource) -> dg.MaterializeResult:
    rules = policy.load()
    values = value_customers(warehouse.path_obj, rules)
    write_tables(warehouse.path_obj, {"ml.customer_value": values})
    share = float(values["valuable"].mean()) if len(values) else 0.0
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(values)),
            "valuable_share": dg.MetadataValue.float(round(share, 4)),
            "median_value": dg.MetadataValue.float(float(pd.Series(values["customer_value"]).median())),
            "min_value_to_try": dg.MetadataValue.float(rules.value.min_value),
        }
    )
