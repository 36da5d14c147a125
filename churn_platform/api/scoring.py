"""The champion in memory: fresh features in, probability, tier and reasons out, in micro-batches.

Requests that arrive while a batch is being scored wait for the next batch, so at 50 concurrent clients one
``predict_proba`` and one SHAP call serve up to ``max_batch`` requests (a model scores 50 rows in about the
time it scores one). The registry is polled every ``reload_seconds``: when the ``champion`` (or ``explainer``)
alias moves, the new model is loaded beside the old one and swapped in between two batches.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn_platform.lib.tiering import Cutoffs, tier_of
from ml.models import ChurnModel

log = logging.getLogger("churn_platform.api")


class FeatureError(ValueError):
    """Features that do not match the champion's signature; the message names the columns."""


@dataclass(frozen=True)
class Loaded:
    """One champion (and the explainer of the same registry) as loaded from MLflow."""

    model: ChurnModel
    version: str
    explainer: ChurnModel | None = None
    explainer_version: str | None = None


def load_from_registry(model_name: str) -> Loaded | None:
    """The champion and explainer behind the aliases now; None while there is no champion."""
    from ml.registry import get_alias
    from ml.tracking import CHAMPION, EXPLAINER, load_churn_model, quiet_mlflow

    with quiet_mlflow():
        champion = get_alias(model_name, CHAMPION)
        if champion is None:
            return None
        model = load_churn_model(champion.uri)
        explainer_alias = get_alias(model_name, EXPLAINER)
        explainer = load_churn_model(f"models:/{model_name}@{EXPLAINER}") if explainer_alias else None
    _single_threaded(model)
    if explainer is not None:
        _single_threaded(explainer)
    return Loaded(model, champion.version, explainer, explainer_alias.version if explainer_alias else None)


def aliases_now(model_name: str) -> tuple[str | None, str | None]:
    from ml.registry import get_alias
    from ml.tracking import CHAMPION, EXPLAINER

    champion, explainer = get_alias(model_name, CHAMPION), get_alias(model_name, EXPLAINER)
    return (champion.version if champion else None, explainer.version if explainer else None)


def _single_threaded(model: ChurnModel) -> None:
    """A request scores a handful of rows: thread pools cost more than they save (and the server has its own)."""
    estimator = model.estimator
    if hasattr(estimator, "named_steps") and hasattr(estimator.named_steps.get("model"), "n_jobs"):
        estimator.named_steps["model"].n_jobs = 1


def check_features(features: dict[str, Any], model: ChurnModel) -> dict[str, Any]:
    """The features in the champion's columns; FeatureError names missing, unknown and mistyped ones."""
    spec = model.spec
    missing = [c for c in spec.columns if c not in features]
    unknown = sorted(c for c in features if c not in set(spec.columns))
    wrong = [
        c
        for c in spec.numeric
        if c in features
        and features[c] is not None
        and not (
            isinstance(features[c], int | float)
            and not (isinstance(features[c], float) and math.isinf(features[c]))
        )
    ]
    wrong += [
        c
        for c in spec.categorical
        if c in features and features[c] is not None and not isinstance(features[c], str)
    ]
    problems = []
    if missing:
        problems.append(f"missing feature(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown feature(s) {', '.join(unknown)}")
    if wrong:
        problems.append(
            f"feature(s) of the wrong type {', '.join(wrong)} (numbers for numeric, text for categorical)"
        )
    if problems:
        raise FeatureError(
            "; ".join(problems) + f" (the champion takes {len(spec.columns)} features: see /docs)"
        )
    return {c: features[c] for c in spec.columns}


def typed_frame(rows: list[dict[str, Any]], model: ChurnModel) -> pd.DataFrame:
    """Checked rows as the frame the model reads, typed once (numbers as float64, categories as text with
    ``missing`` for none, as training saw them): the model's own check then passes it through untouched,
    which matters at a few milliseconds a request."""
    spec = model.spec
    data: dict[str, np.ndarray] = {}
    for c in spec.numeric:
        data[c] = np.array([np.nan if r[c] is None else float(r[c]) for r in rows], dtype=float)
    for c in spec.categorical:
        data[c] = np.array(["missing" if r[c] is None else str(r[c]) for r in rows], dtype=object)
    return pd.DataFrame(data, columns=spec.columns)


@dataclass
class Scored:
    churn_probability: float
    risk_tier: str
    reasons: list[str]
    model_version: str
    cutoffs: str


@dataclass
class _Pending:
    row: dict[str, Any]
    future: asyncio.Future[Scored]


@dataclass
class Champion:
    """Holds the loaded champion, swaps it when the alias moves, and scores requests in micro-batches."""

    model_name: str
    cutoffs: Callable[[], Cutoffs]
    loader: Callable[[str], Loaded | None] = load_from_registry
    aliases: Callable[[str], tuple[str | None, str | None]] = aliases_now
    max_batch: int = 64
    explain_tiers: tuple[str, ...] = ("critical", "high", "medium")
    wording: Any = None  # the company's words for reasons (ml.explain.Wording)
    loaded: Loaded | None = None
    _queue: list[_Pending] = field(default_factory=list)
    _wake: asyncio.Event | None = None
    _worker: asyncio.Task[None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    batches: int = 0
    rows: int = 0

    def load(self) -> bool:
        """(Re)load the models behind the aliases; True when what serves changed."""
        versions = self.aliases(self.model_name)
        current = (self.loaded.version, self.loaded.explainer_version) if self.loaded else (None, None)
        if versions == current:
            return False
        fresh = self.loader(self.model_name) if versions[0] else None
        with self._lock:
            self.loaded = fresh
        log.info("serving champion version %s (explainer %s)", versions[0], versions[1])
        return True

    def watch(self, every: float, stop: threading.Event) -> threading.Thread:
        """Poll the registry in a background thread until ``stop`` is set."""

        def loop() -> None:
            while not stop.wait(every):
                try:
                    self.load()
                except Exception as exc:  # a registry hiccup must not stop serving the current champion
                    log.warning("could not check the champion alias: %s", type(exc).__name__)

        thread = threading.Thread(target=loop, name="champion-watch", daemon=True)
        thread.start()
        return thread

    def score_rows(self, rows: list[dict[str, Any]]) -> list[Scored]:
        """Score already checked rows with the model serving now (synchronously)."""
        with self._lock:
            loaded = self.loaded
        if loaded is None:
            raise LookupError("no champion model: train and promote one first")
        frame = typed_frame(rows, loaded.model)
        probability = loaded.model.predict_proba(frame)
        cutoffs = self.cutoffs()
        tiers = tier_of(probability, cutoffs.values)
        reasons: list[list[str]] = [[] for _ in rows]
        # as in batch scoring, reasons for the tiers the policy explains (SHAP costs far more than scoring)
        explain = np.flatnonzero(np.isin(tiers, list(self.explain_tiers)))
        if loaded.explainer is not None and len(explain):
            from ml.explain import top_reasons

            try:
                found, _ = top_reasons(loaded.explainer, frame.iloc[explain], wording=self.wording, threads=1)
            except ValueError as exc:  # the explainer needs a column the champion does not
                log.warning("no reasons: %s", exc)
            else:
                for i, said in zip(explain, found, strict=True):
                    reasons[i] = said
        self.batches += 1
        self.rows += len(rows)
        return [
            Scored(float(round(p, 6)), str(t), r, loaded.version, cutoffs.source)
            for p, t, r in zip(np.asarray(probability), tiers, reasons, strict=True)
        ]

    async def score(self, features: dict[str, Any]) -> Scored:
        """Score one customer's features in the next micro-batch."""
        with self._lock:
            loaded = self.loaded
        if loaded is None:
            raise LookupError("no champion model: train and promote one first")
        row = check_features(features, loaded.model)
        loop = asyncio.get_running_loop()
        pending = _Pending(row, loop.create_future())
        self._queue.append(pending)
        if self._wake is None:
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._batches())
        self._wake.set()
        return await pending.future

    async def _batches(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                started = time.perf_counter()
                try:
                    results = await loop.run_in_executor(None, self.score_rows, [p.row for p in batch])
                except Exception as exc:
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(exc)
                    continue
                for p, result in zip(batch, results, strict=True):
                    if not p.future.done():
                        p.future.set_result(result)
                log.debug("scored %d rows in %.1f ms", len(batch), 1000 * (time.perf_counter() - started))
