"""The scoring API: ``GET /v1/customers/{id}/risk``, ``POST /v1/score``, ``GET /v1/health`` (OpenAPI at /docs).

Risk of a known customer comes from the published dashboard snapshot (``worklist.parquet``, re-read when the
pipeline publishes a new one), never from the warehouse, which the pipeline holds while it writes. Fresh
features are scored by the champion in memory (:mod:`churn_platform.api.scoring`). Every ``/v1`` route but
health needs an API key with the route's scope; keys are never logged (only their name is, by the audit).
"""

import math
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from churn_platform.api.keys import ApiKey, KeyRing
from churn_platform.api.scoring import Champion, FeatureError
from churn_platform.lib.tiering import Cutoffs, latest_cutoffs
from churn_platform.settings import Settings

WORKLIST_FILE = "worklist.parquet"


def dashboard_dir(settings: Settings) -> Path:
    """``CHURN_DASHBOARD_DIR``, else ``published/dashboard`` (where ``dashboard_snapshot`` publishes)."""
    import os

    configured = os.environ.get("CHURN_DASHBOARD_DIR")
    return Path(configured) if configured else settings.published / "dashboard"


# --- response and request shapes (the OpenAPI contract) -----------------------------------------------------


class NextBestAction(BaseModel):
    decision: str | None = Field(description="treat, control or skip; null when no decision was made.")
    why: str = Field(description="Why this is the action, in words.")
    playbook: str | None = None
    intervention: str | None = None
    offer: str | None = None
    decided_for_snapshot: str | None = None


class CustomerValue(BaseModel):
    customer_value: float | None = Field(description="Expected value of keeping the customer (currency).")
    valuable: bool = Field(description="Value x expected save rate exceeds the cost of trying.")
    value_band: str | None = Field(description="low, mid or high: thirds by value rank.")


class Risk(BaseModel):
    customer_id: str
    churn_probability: float = Field(ge=0, le=1)
    risk_tier: str
    reasons: list[str]
    value: CustomerValue
    next_best_action: NextBestAction
    model_version: str
    snapshot_date: str
    scored_at: str


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = Field(default=None, description="Echoed back; not used for scoring.")
    features: dict[str, Any] = Field(
        description="One value per feature of the champion's signature (GET /v1/model lists them)."
    )


class ScoreResponse(BaseModel):
    customer_id: str | None
    churn_probability: float
    risk_tier: str
    reasons: list[str]
    model_version: str
    tier_cutoffs: str = Field(description="Which cut-offs tiered the probability.")


class ModelInfo(BaseModel):
    model_version: str
    numeric_features: list[str]
    categorical_features: list[str]
    explainer_version: str | None


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when there is no champion or no published scores.")
    champion_version: str | None
    scores_snapshot: str | None
    scores_published_at: str | None
    customers: int


# --- published risk, re-read when it changes -----------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return str(value)


def _risk(row: dict[Any, Any]) -> dict[str, Any]:
    decision = _text(row.get("decision"))
    if decision is None:
        why = (
            "no retention decision: the customer's tier did not rise into an actionable tier"
            if row.get("risk_tier") != "low"
            else "no action: low risk"
        )
    else:
        why = _text(row.get("decision_reason")) or decision
    value = row.get("customer_value")
    snapshot = row.get("snapshot_date")
    return {
        "customer_id": str(row["customer_id"]),
        "churn_probability": float(row["churn_probability"]),
        "risk_tier": str(row["risk_tier"]),
        "reasons": [r for r in (_text(row.get(f"reason_{i}")) for i in (1, 2, 3)) if r],
        "value": {
            "customer_value": None if value is None or pd.isna(value) else float(value),
            "valuable": bool(row.get("valuable") is True),
            "value_band": _text(row.get("value_band")),
        },
        "next_best_action": {
            "decision": decision,
            "why": why,
            "playbook": _text(row.get("playbook")),
            "intervention": _text(row.get("intervention")),
            "offer": _text(row.get("offer")),
            "decided_for_snapshot": _text(row.get("decided_for_snapshot")),
        },
        "model_version": str(row.get("model_version")),
        "snapshot_date": str(snapshot)[:10],
        "scored_at": str(row.get("scored_at")),
    }


class PublishedRisk:
    """The latest published scores as a dict by customer id, re-read when the file's modification time moves."""

    def __init__(self, folder: Path, check_every: float = 1.0) -> None:
        self.path = folder / WORKLIST_FILE
        self.check_every = check_every
        self._stamp: int | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.by_id: dict[str, bytes] = {}  # the JSON answer, serialised once per publication
        self.snapshot: str | None = None
        self.published_at: str | None = None

    def refresh(self, now: float) -> None:
        if now - self._checked < self.check_every:
            return
        with self._lock:
            self._checked = now
            try:
                stamp = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                self.by_id, self._stamp, self.snapshot = {}, None, None
                return
            if stamp == self._stamp:
                return
            frame = pd.read_parquet(self.path)
            self.by_id = {str(r["customer_id"]): orjson.dumps(_risk(r)) for r in frame.to_dict("records")}
            self.snapshot = str(frame["snapshot_date"].max())[:10] if len(frame) else None
            manifest = self.path.parent / "manifest.json"
            if manifest.exists():
                import json

                self.published_at = json.loads(manifest.read_text()).get("published_at")
            self._stamp = stamp


def _cached_cutoffs(folder: Path, policy: Any) -> Callable[[], Cutoffs]:
    """``latest_cutoffs``, re-read only when the published cut-offs file changes."""
    from churn_platform.lib.tiering import CUTOFFS_FILE

    cache: dict[str, Any] = {}

    def now() -> Cutoffs:
        try:
            stamp: int | None = (folder / CUTOFFS_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if "value" not in cache or cache["stamp"] != stamp:
            cache.update(stamp=stamp, value=latest_cutoffs(folder, policy))
        value: Cutoffs = cache["value"]
        return value

    return now


# --- the app -------------------------------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key")


def create_app(
    settings: Settings | None = None,
    *,
    watch: bool = True,
    cutoffs: Callable[[], Cutoffs] | None = None,
    champion: Champion | None = None,
) -> FastAPI:
    """The API for these settings. ``watch``: poll the registry for a moved champion alias in the background."""
    import time

    from churn_platform.lib.configuration import checked_settings
    from ml.policy import load_policy

    settings = settings or checked_settings()
    folder = dashboard_dir(settings)
    policy = load_policy(settings.policy_path)
    keys = KeyRing(settings.api_keys)
    risk = PublishedRisk(folder)
    cutoffs_now = cutoffs or _cached_cutoffs(folder, policy)
    if champion is None:
        from ml.tracking import configure

        configure(settings.mlflow_uri, settings.mlflow_artifacts)
        from churn_platform.lib.ml_pipeline import reason_wording
        from churn_platform.profile import active_profile

        champion = Champion(
            settings.model_name,
            cutoffs_now,
            max_batch=settings.api_max_batch,
            explain_tiers=policy.explain_tiers,
            wording=reason_wording(active_profile()),
        )
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import gc

        champion.load()
        risk.refresh(time.monotonic())
        # the models and the published answers live as long as the process: out of the collector's way, so
        # collections during requests stay short (they set the tail latency)
        gc.collect()
        gc.freeze()
        if watch:
            champion.watch(settings.api_reload_seconds, stop)
        yield
        stop.set()

    app = FastAPI(
        title="Churn Platform API",
        version="1",
        description="Churn risk of a customer, and fresh scores from the champion model. Every route but "
        "/v1/health needs an API key (`churn-platform api-key create`) with the route's scope: `read` or `score`.",
        lifespan=lifespan,
    )
    app.state.champion = champion
    app.state.risk = risk

    def require(scope: str) -> Callable[..., Any]:
        async def check(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
            x_api_key: Annotated[str | None, Security(header_key)],
        ) -> ApiKey:
            presented = credentials.credentials if credentials else x_api_key
            key = keys.find(presented) if presented else None
            if key is None:
                raise HTTPException(
                    401,
                    "a valid API key is required (Authorization: Bearer <key>)",
                    {"WWW-Authenticate": "Bearer"},
                )
            if scope not in key.scopes:
                raise HTTPException(403, f"this API key lacks the '{scope}' scope")
            return key

        return check

    @app.get("/v1/health", response_model=Health, tags=["health"])
    async def health() -> Health:
        risk.refresh(time.monotonic())
        version = champion.loaded.version if champion.loaded else None
        return Health(
            status="ok" if version and risk.by_id else "degraded",
            champion_version=version,
            scores_snapshot=risk.snapshot,
            scores_published_at=risk.published_at,
            customers=len(risk.by_id),
        )

    @app.get(
        "/v1/customers/{customer_id}/risk",
        response_model=Risk,
        tags=["risk"],
        responses={404: {"description": "No published score for this customer."}},
    )
    async def customer_risk(customer_id: str, key: Annotated[ApiKey, Depends(require("read"))]) -> Response:
        """The customer's latest probability, tier, reasons, value, next best action, model and snapshot."""
        risk.refresh(time.monotonic())
        found = risk.by_id.get(customer_id)
        if found is None:
            raise HTTPException(404, "no published score for this customer (unknown, inactive or erased)")
        return Response(found, media_type="application/json")

    @app.get("/v1/model", response_model=ModelInfo, tags=["score"])
    async def model_info(key: Annotated[ApiKey, Depends(require("score"))]) -> ModelInfo:
        """The features POST /v1/score takes: the champion's signature."""
        loaded = champion.loaded
        if loaded is None:
            raise HTTPException(503, "no champion model: train and promote one first")
        return ModelInfo(
            model_version=loaded.version,
            numeric_features=list(loaded.model.spec.numeric),
            categorical_features=list(loaded.model.spec.categorical),
            explainer_version=loaded.explainer_version,
        )

    @app.post("/v1/score", response_model=ScoreResponse, tags=["score"])
    async def score(
        body: ScoreRequest, request: Request, key: Annotated[ApiKey, Depends(require("score"))]
    ) -> Response:
        """Probability, tier and reasons for the features given, computed now by the champion."""
        try:
            scored = await champion.score(body.features)
        except FeatureError as exc:
            raise HTTPException(422, str(exc)) from None
        except LookupError as exc:
            raise HTTPException(503, str(exc)) from None
        answer = {
            "customer_id": body.customer_id,
            "churn_probability": scored.churn_probability,
            "risk_tier": scored.risk_tier,
            "reasons": scored.reasons,
            "model_version": scored.model_version,
            "tier_cutoffs": scored.cutoffs,
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    return app


def factory() -> FastAPI:
    """For ``uvicorn --factory churn_platform.api.app:factory`` (several workers)."""
    return create_app()
