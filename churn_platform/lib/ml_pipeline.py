"""The modelling steps of the pipeline as plain functions: warehouse in, MLflow and warehouse tables out.

Dagster assets call these; tests call them directly. Each opens the warehouse only for as long as it reads
or writes (DuckDB has one writer), and ``ml/`` stays free of any orchestration or storage concern.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn_platform.lib.warehouse import connect as connect_warehouse
from churn_platform.profile import CompanyProfile
from ml.explain import AttributeWords, EventWords, Wording, strongest_feature, top_reasons
from ml.metrics import evaluate
from ml.policy import ChurnPolicy
from ml.promotion import PromotionDecision, decide
from ml.registry import get_alias, score_with, set_alias
from ml.score import score_frame
from ml.tracking import EXPLAINER, LoggedModel, load_churn_model, log_model_run, quiet_mlflow
from ml.train import Candidate, TrainConfig, train_candidates, validation_rows
from ml.value import LifetimeModel, customer_value

Progress = Callable[[str], None]

# Warehouse reads for models come back in one order, whatever order the table was built in: models and
# scores must not depend on how a parallel scan or a rebuilt mart happened to order the rows.
TRAINING_SQL = "select * from ml_training_set order by snapshot_date, customer_id"
SCORING_SQL = "select * from ml_scoring_set order by snapshot_date, customer_id"
TIER_CUTOFFS = "ml.tier_cutoffs"


def reason_wording(profile: CompanyProfile) -> Wording:
    """What reasons call the company's event types and attributes (its profile), and its currency."""
    measures = {"duration": "seconds", "value": "value"}
    return Wording(
        events=tuple(
            EventWords(
                name=e.name,
                plural=e.plural,
                measure=measures.get(e.measure),  # type: ignore[arg-type]
                measure_label=e.value_label,
            )
            for e in profile.event_types
        ),
        attributes=tuple(AttributeWords(a.feature_name, a.type, a.name) for a in profile.attributes),
        currency=profile.currency,
    )


def read_table(warehouse: Path, sql: str) -> pd.DataFrame:
    """Run a read query and release the file at once (a read-only connection never blocks a later writer)."""
    con = connect_warehouse(warehouse, read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def write_tables(warehouse: Path, tables: dict[str, pd.DataFrame], append: tuple[str, ...] = ()) -> None:
    """Replace (or append to) tables in one transaction.

    Appending a frame with a column the table lacks adds the column first (older rows get null), so a
    history table grows with the platform instead of refusing its newer rows.
    """
    con = connect_warehouse(warehouse)
    try:
        con.execute("begin transaction")
        for name, frame in tables.items():
            schema = name.split(".")[0]
            con.execute(f"create schema if not exists {schema}")
            con.register("frame", frame)
            if name in append:
                con.execute(f"create table if not exists {name} as select * from frame limit 0")
                have = {str(r[0]) for r in con.execute(f"describe {name}").fetchall()}
                for column, kind, *_ in con.execute("describe select * from frame").fetchall():
                    if column not in have:
                        con.execute(f'alter table {name} add column "{column}" {kind}')
                con.execute(f"insert into {name} by name select * from frame")
            else:
                con.execute(f"create or replace table {name} as select * from frame")
            con.unregister("frame")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.close()


@dataclass
class TrainingOutcome:
    """What one training round produced and what the promotion gate decided."""

    candidates: list[Candidate]
    logged: dict[str, LoggedModel]
    best: Candidate
    decision: PromotionDecision
    champion_version: str | None
    validation_snapshot: str
    metrics_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    @property
    def best_version(self) -> str:
        return self.logged[self.best.kind].version or ""

    @property
    def catboost_version(self) -> str | None:
        logged = self.logged.get("catboost")
        return logged.version if logged else None


def train_and_judge(
    warehouse: Path,
    model_name: str,
    policy: ChurnPolicy,
    config: TrainConfig,
    plots_dir: Path,
    progress: Progress | None = None,
) -> TrainingOutcome:
    """Train every family on ml_training_set, log and register them, judge the best against the champion."""
    from ml.plots import all_plots

    frame = read_table(warehouse, TRAINING_SQL)
    if frame.empty:
        raise ValueError("ml_training_set is empty: no snapshot has matured labels yet")
    candidates = train_candidates(frame, config, progress)
    notes = list(candidates[0].model.spec.notes)
    notes += [
        f"{c.kind}: the hyperparameter search stopped at its safety limit after {c.search.get('tried')} of "
        f"{c.search.get('trials')} trials"
        for c in candidates
        if c.search.get("stopped_early")
    ]
    metric = policy.promotion.metric
    best = max(candidates, key=lambda c: c.metrics[metric] * (1 if policy.promotion.higher_is_better else -1))
    val = validation_rows(frame, best.split, config)
    y_val = val[config.label].astype(int).to_numpy()
    logged: dict[str, LoggedModel] = {}
    with quiet_mlflow():
        champion = get_alias(model_name)
        champion_score = None
        if champion is not None:
            # the champion is judged on exactly the candidate's validation rows
            p = score_with(champion.uri, val.drop(columns=[config.label]))
            champion_score = evaluate(y_val, p)[metric]
        decision = decide(best.metrics[metric], champion_score, policy.promotion)
        for c in candidates:
            plots = all_plots(
                y_val, c.validation_probability, c.model.feature_importance(), plots_dir / c.kind
            )
            left_out = ", ".join(f"{col} ({why})" for col, why in c.model.spec.left_out)
            params: dict[str, Any] = {
                **c.split.as_params(),
                "training_rows": int((frame[config.label].notna()).sum()),
                "features": ",".join(c.model.spec.columns),
                "features_left_out": left_out or "none",
                "search_trials": config.search_trials,
                "search_max_seconds": config.search_max_seconds,
                "threads": config.threads,
                "seed": config.seed,
                "policy_version": policy.version,
            }
            if c.search:
                params["search_trials_run"] = c.search.get("tried", 0)
            tags = {
                "candidate_of_round": "best" if c is best else "other",
                "promotion_decision": ("promote" if decision.promote else "keep") if c is best else "n/a",
                # params are cut at 250 characters; the whole list is kept as a tag
                "features_left_out": left_out[:5000] or "none",
            }
            if c.search.get("stopped_early"):
                tags["search_stopped_early"] = "true"
            logged[c.kind] = log_model_run(
                c.model, c.metrics, params, plots, val.drop(columns=[config.label]), model_name, c.kind, tags
            )
    table = pd.DataFrame(
        [{"model": c.kind, "version": logged[c.kind].version, **c.metrics} for c in candidates]
    ).set_index("model")
    return TrainingOutcome(
        candidates,
        logged,
        best,
        decision,
        champion.version if champion else None,
        str(best.split.validation),
        table,
        notes,
    )


def promote(model_name: str, version: str, explainer_version: str | None) -> None:
    """Move the champion alias (and the explainer alias to the same round's CatBoost model)."""
    set_alias(model_name, version)
    if explainer_version:
        set_alias(model_name, explainer_version, EXPLAINER)


@dataclass
class ScoringOutcome:
    """One scoring run: the scores, the tier cut-offs they were tiered by and what to know about the tiers.

    ``tiers``: one row per tier (method, parameter, cutoff, customers, share, base_rate); ``notes``: why a
    tier is empty or off its share, one sentence each.
    """

    scores: pd.DataFrame
    model_version: str
    explained: int
    seconds: dict[str, float]
    cutoffs: dict[str, float] = field(default_factory=dict)
    tiers: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    def cutoffs_table(self) -> pd.DataFrame:
        """Rows for ``ml.tier_cutoffs``: the tiers of this run with its snapshot, time and versions."""
        out = self.tiers.copy()
        first = self.scores.iloc[0] if len(self.scores) else None
        out.insert(0, "snapshot_date", pd.Timestamp(first["snapshot_date"]) if first is not None else None)
        out.insert(1, "scored_at", pd.Timestamp(first["scored_at"]) if first is not None else None)
        out["model_version"] = self.model_version
        out["policy_version"] = str(first["policy_version"]) if first is not None else None
        return out


def score_customers(
    warehouse: Path,
    model_name: str,
    policy: ChurnPolicy,
    wording: Wording | None = None,
    progress: Progress | None = None,
) -> ScoringOutcome:
    """Score the latest snapshot with the champion; explain the tiers the policy names with the explainer.

    ``wording``: the company's words for its event types and attributes (:func:`reason_wording` of the
    active profile); reasons use them.
    """
    timings: dict[str, float] = {}
    champion = get_alias(model_name)
    if champion is None:
        raise ValueError(
            f"no model has the champion alias in registry '{model_name}': train and promote one first"
        )
    started = time.perf_counter()
    frame = read_table(warehouse, SCORING_SQL)
    timings["read"] = time.perf_counter() - started
    started = time.perf_counter()
    with quiet_mlflow():
        model = load_churn_model(champion.uri)
        scored = score_frame(model, frame, policy, champion.version)
    scores = scored.scores
    for note in scored.notes:
        if progress:
            progress(note)
    timings["score"] = time.perf_counter() - started
    started = time.perf_counter()
    scores["reasons"] = [[] for _ in range(len(scores))]
    scores["top_feature"] = None
    explainer_alias = get_alias(model_name, EXPLAINER)
    to_explain = scores["risk_tier"].isin(policy.explain_tiers).to_numpy()
    if explainer_alias is not None and to_explain.any():
        with quiet_mlflow():
            explainer = load_churn_model(f"models:/{model_name}@{EXPLAINER}")
        reasons, values = top_reasons(explainer, frame.loc[to_explain], wording=wording)
        scores.loc[to_explain, "reasons"] = pd.Series(reasons, index=scores.index[to_explain])
        strongest = strongest_feature(values, explainer.spec.columns)
        scores.loc[to_explain, "top_feature"] = pd.Series(strongest, index=scores.index[to_explain])
    timings["explain"] = time.perf_counter() - started
    scores["reason_1"] = [r[0] if len(r) > 0 else None for r in scores["reasons"]]
    scores["reason_2"] = [r[1] if len(r) > 1 else None for r in scores["reasons"]]
    scores["reason_3"] = [r[2] if len(r) > 2 else None for r in scores["reasons"]]
    scores = scores.drop(columns=["reasons"])
    scores["scored_at"] = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return ScoringOutcome(
        scores,
        champion.version,
        int(to_explain.sum()),
        timings,
        scored.cutoffs,
        scored.tiers,
        scored.notes,
    )


def tier_changes(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Who moved between tiers since the previous scoring: up, down, or newly scored."""
    order = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    merged = current[["customer_id", "risk_tier", "churn_probability", "snapshot_date"]].merge(
        previous[["customer_id", "risk_tier"]].rename(columns={"risk_tier": "previous_tier"}),
        on="customer_id",
        how="left",
    )
    merged = merged.rename(columns={"risk_tier": "current_tier"})
    prev_rank = merged["previous_tier"].map(order)
    cur_rank = merged["current_tier"].map(order)
    merged["direction"] = np.where(
        prev_rank.isna(),
        "new",
        np.where(cur_rank > prev_rank, "up", np.where(cur_rank < prev_rank, "down", "same")),
    )
    return merged[merged["direction"] != "same"].reset_index(drop=True)


def value_customers(warehouse: Path, policy: ChurnPolicy) -> pd.DataFrame:
    """Survival-based value for every scored customer, fitted on the whole customer history."""
    customers = read_table(
        warehouse,
        """
        select customer_id, plan, segment, coalesce(current_mrr, 0) as mrr,
               greatest(date_diff('day', signup_date, coalesce(cancel_date, as_of_date)), 1) / 30.44
                   as tenure_months,
               is_churned as churned
        from dim_customers where signup_date is not null
        """,
    )
    if customers.empty:
        raise ValueError("dim_customers is empty: nothing to value")
    model = LifetimeModel().fit(customers)
    active = customers[~customers["churned"]]
    return customer_value(active, model, policy.value)
