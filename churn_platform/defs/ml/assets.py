"""Models, the promotion gate, scores with tiers and reasons, tier changes and customer value."""

import math
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd

from churn_platform.defs.ml.resources import MlflowResource, PolicyResource
from churn_platform.defs.resources import WarehouseResource
from churn_platform.lib.ml_pipeline import (
    TIER_CUTOFFS,
    promote,
    read_table,
    reason_wording,
    score_customers,
    tier_changes,
    train_and_judge,
    value_customers,
    write_tables,
)
from churn_platform.profile import active_profile
from ml.registry import get_alias
from ml.train import TrainConfig

TRAINING_SET = dg.AssetKey("ml_training_set")
SCORING_SET = dg.AssetKey("ml_scoring_set")
DIM_CUSTOMERS = dg.AssetKey("dim_customers")
CANDIDATES = dg.AssetKey("churn_model_candidates")


class TrainingConfig(dg.Config):
    """Knobs an ML engineer turns from the launchpad.

    The same data and knobs give the same models: the search tries a fixed number of settings per family;
    its time limit is a safety stop that, when it fires, is logged and tagged on the MLflow run.
    """

    search_trials: int = 0
    search_max_seconds: float = 3600.0
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
            TrainConfig(
                search_trials=config.search_trials,
                search_max_seconds=config.search_max_seconds,
                seed=config.seed,
            ),
            Path(tmp),
            progress=context.log.info,
        )
    for note in outcome.notes:
        context.log.warning(note)
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
            "features_left_out": dg.MetadataValue.md(
                "\n".join(f"- {note}" for note in outcome.notes) or "none"
            ),
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
    "(the policy's method - by default the riskiest 1% / 5% / 15% - turned into probability cut-offs, recorded "
    "in ml.tier_cutoffs), top three reasons in the company's words (CatBoost SHAP, for the tiers the policy "
    "names), model and policy versions. Table ml.churn_scores; history in ml.churn_score_history.",
)
def churn_scores(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    policy: PolicyResource,
) -> dg.MaterializeResult:
    mlflow.setup()
    outcome = score_customers(
        warehouse.path_obj,
        mlflow.model_name,
        policy.load(),
        wording=reason_wording(active_profile()),
        progress=context.log.info,
    )
    write_tables(
        warehouse.path_obj,
        {
            "ml.churn_scores": outcome.scores,
            "ml.churn_score_history": outcome.scores,
            TIER_CUTOFFS: outcome.cutoffs_table(),
        },
        append=("ml.churn_score_history", TIER_CUTOFFS),
    )
    for note in outcome.notes:
        context.log.warning(note)
    tiers = outcome.tiers.set_index("tier")[["parameter", "cutoff", "customers", "share"]]
    sample = outcome.scores.sort_values("churn_probability", ascending=False).head(10)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(outcome.scores)),
            "model_version": outcome.model_version,
            "tier_method": dg.MetadataValue.text(str(outcome.tiers["method"].iloc[0])),
            "tiers": dg.MetadataValue.md(tiers.round(6).to_markdown()),
            # an unreachable tier (inf) is null: JSON has no infinity
            "tier_cutoffs": dg.MetadataValue.json(
                {k: round(v, 6) if math.isfinite(v) else None for k, v in outcome.cutoffs.items()}
            ),
            "tier_notes": dg.MetadataValue.md(
                "\n".join(f"- {note}" for note in outcome.notes) or "every tier as the policy asks"
            ),
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
