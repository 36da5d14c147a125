"""Great Expectations quality gates: one suite per raw source, kept as JSON in ``expectations/``.

The suites are data a data engineer can read and extend; ``churn-platform expectations --write`` regenerates
the contract's baseline. Validation runs on pandas with complete results, so every failing row is known by
its row number and can be quarantined with the rule it broke while the rest of the file loads.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn_platform.contract import Source, active_contract
from churn_platform.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
BATCH_DATE = {"$PARAMETER": "batch_date"}


def baseline_suite(source: Source) -> dict[str, Any]:
    """The expectations the data contract implies for one source, as a GX suite document."""
    expectations: list[dict[str, Any]] = []
    for col in source.columns:
        if not col.nullable:
            expectations.append(
                {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": col.name}}
            )
        if col.allowed:
            expectations.append(
                {
                    "type": "expect_column_values_to_be_in_set",
                    "kwargs": {"column": col.name, "value_set": list(col.allowed)},
                }
            )
        if col.minimum is not None or col.maximum is not None:
            kwargs: dict[str, Any] = {"column": col.name}
            if col.minimum is not None:
                kwargs["min_value"] = col.minimum
            if col.maximum is not None:
                kwargs["max_value"] = col.maximum
            expectations.append({"type": "expect_column_values_to_be_between", "kwargs": kwargs})
        if col.not_future:
            expectations.append(
                {
                    "type": "expect_column_values_to_be_between",
                    "kwargs": {"column": col.name, "max_value": BATCH_DATE},
                    "meta": {"rule": "not after the batch date"},
                }
            )
        if col.pattern:
            expectations.append(
                {
                    "type": "expect_column_values_to_match_regex",
                    "kwargs": {"column": col.name, "regex": col.pattern},
                    "meta": {"rule": col.pattern_rule or f"match {col.pattern}"},
                }
            )
    expectations.append(
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": source.primary_key}}
    )
    return {
        "name": f"raw_{source.name}",
        "expectations": expectations,
        "meta": {"source": source.name, "generated_from": "churn_platform/contract.py"},
    }


def write_suites(folder: Path = EXPECTATIONS_DIR) -> list[Path]:
    """Write the baseline suite of every source (used when the contract changes)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in active_contract().sources.values():
        path = folder / f"raw_{source.name}.json"
        path.write_text(json.dumps(baseline_suite(source), indent=2) + "\n")
        written.append(path)
    return written


def load_suite(source: str, folder: Path = EXPECTATIONS_DIR) -> dict[str, Any]:
    path = folder / f"raw_{source}.json"
    if not path.exists():
        raise FileNotFoundError(f"no expectation suite for {source}: expected {path}")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _substitute(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
        return params[value["$PARAMETER"]]
    return value


def describe(expectation: dict[str, Any]) -> str:
    """A rule in words, for the quarantine table and error messages."""
    kind = expectation["type"].removeprefix("expect_column_values_to_").replace("_", " ")
    kwargs = expectation["kwargs"]
    if "meta" in expectation and "rule" in expectation["meta"]:
        return f"{kwargs['column']}: {expectation['meta']['rule']}"
    extra = ""
    if "value_set" in kwargs:
        extra = " " + ", ".join(map(str, kwargs["value_set"]))
    if "min_value" in kwargs or "max_value" in kwargs:
        extra = f" [{kwargs.get('min_value', '-inf')}, {kwargs.get('max_value', 'inf')}]"
    return f"{kwargs['column']}: {kind}{extra}"


@dataclass
class RuleResult:
    rule: str
    column: str
    unexpected_rows: list[int]


@dataclass
class ValidationOutcome:
    """GX's verdict on one file: per rule, the failing row numbers."""

    rules: list[RuleResult]
    evaluated: int

    @property
    def failed_rows(self) -> set[int]:
        return {r for rule in self.rules for r in rule.unexpected_rows}


class SuiteRunner:
    """Validates data frames against the suites with one ephemeral GX context, reused across files."""

    def __init__(self, folder: Path = EXPECTATIONS_DIR) -> None:
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        import great_expectations as gx

        self._gx = gx
        self.folder = folder
        self.context = gx.get_context(mode="ephemeral")
        with contextlib.suppress(Exception):  # the progress bar setting moved between GX versions
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.context.data_sources.add_pandas("landing")
        self.batch_definition = source.add_dataframe_asset("file").add_batch_definition_whole_dataframe(
            "whole"
        )

    def validate(self, source: str, frame: pd.DataFrame, batch_date: pd.Timestamp) -> ValidationOutcome:
        """Run the source's suite on a frame indexed by row number; return the failing rows per rule."""
        doc = load_suite(source, self.folder)
        params = {"batch_date": batch_date}
        suite = self._gx.ExpectationSuite(name=f"{doc['name']}_{id(frame)}")
        configs = []
        for exp in doc["expectations"]:
            kwargs = {k: _substitute(v, params) for k, v in exp["kwargs"].items()}
            if kwargs.get("column") not in frame.columns:
                continue  # optional column absent from this file
            cls = self._expectation_class(exp["type"])
            suite.add_expectation(cls(**kwargs))
            configs.append(exp)
        if not configs or frame.empty:
            return ValidationOutcome([], len(frame))
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        # results carry no ids for an unsaved suite: pair them by (type, column), in order within a pair
        pending: dict[tuple[str, Any], list[Any]] = {}
        for res in result.results:
            cfg = res.expectation_config
            if cfg is None:
                continue
            pending.setdefault((cfg.type, cfg.kwargs.get("column")), []).append(res)
        rules = []
        for exp in configs:
            res = pending[(exp["type"], exp["kwargs"]["column"])].pop(0)
            unexpected = res.result.get("unexpected_index_list") or []
            rows = [int(i) for i in unexpected if not isinstance(i, dict)]
            rules.append(RuleResult(describe(exp), exp["kwargs"]["column"], rows))
        return ValidationOutcome(rules, len(frame))

    def _expectation_class(self, kind: str) -> Any:
        name = "".join(part.capitalize() for part in kind.split("_"))
        cls = getattr(self._gx.expectations, name, None)
        if cls is None:
            raise ValueError(f"unknown expectation type {kind!r} in {self.folder}")
        return cls
