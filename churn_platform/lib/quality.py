"""Quality gates: one Great Expectations suite per raw source, kept as JSON in ``expectations/<profile>/``.

The suites are the declared rules, data a data engineer can read and extend; ``churn-platform expectations``
regenerates a company's baseline from its profile. Ingestion does not push millions of rows through pandas to
judge them: :class:`SuiteRunner` compiles each expectation of a suite to a SQL predicate that DuckDB evaluates
over the delivered file, so every failing row is known by its row number and can be quarantined with the rule
it broke while the rest of the file loads; the verdicts are recorded per expectation in Great Expectations'
result shape (``raw._validation_results``). :func:`gx_validate` runs the same suite through Great Expectations
itself on a frame, which the tests use to prove both judge alike.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn_platform.contract import Contract, Source, active_contract
from churn_platform.settings import PROJECT_ROOT

EXPECTATIONS_ROOT = PROJECT_ROOT / "expectations"


def suites_dir(contract: Contract | None = None) -> Path:
    """Where the suites of a company live: ``expectations/<profile name>/`` (``CHURN_EXPECTATIONS_DIR`` overrides)."""
    override = os.environ.get("CHURN_EXPECTATIONS_DIR")
    if override:
        return Path(override)
    return EXPECTATIONS_ROOT / (contract or active_contract()).profile.name


BATCH_DATE = {"$PARAMETER": "batch_date"}
# The last instant of the batch date: the batch date is the cut day, so rows changed during it belong to it.
BATCH_CUT = {"$PARAMETER": "batch_cut"}


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
                    "kwargs": {
                        "column": col.name,
                        "max_value": BATCH_CUT if col.type == "timestamp" else BATCH_DATE,
                    },
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
        "meta": {
            "source": source.name,
            "generated_from": "the company profile, by churn-platform expectations",
        },
    }


def write_suites(contract: Contract | None = None, folder: Path | None = None) -> list[Path]:
    """Write the baseline suite of every source of a company's contract (run when the profile changes)."""
    contract = contract or active_contract()
    folder = folder or suites_dir(contract)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in contract.sources.values():
        path = folder / f"raw_{source.name}.json"
        path.write_text(json.dumps(baseline_suite(source), indent=2) + "\n")
        written.append(path)
    return written


def load_suite(source: str, folder: Path | None = None, contract: Contract | None = None) -> dict[str, Any]:
    """The suite of one source: the file in the company's suites folder (editable), else the baseline the
    profile implies (generated in memory, so a new company's own profile works before anyone writes files)."""
    contract = contract or active_contract()
    path = (folder or suites_dir(contract)) / f"raw_{source}.json"
    if not path.exists():
        if source not in contract.sources:
            raise FileNotFoundError(f"no expectation suite for {source}: expected {path}")
        return baseline_suite(contract.sources[source])
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
        values = list(map(str, kwargs["value_set"]))
        if kind == "be in set" and len(values) > 12:
            return f"{kwargs['column']}: be one of the {len(values)} values the company profile allows"
        extra = " " + ", ".join(values)
    if "min_value" in kwargs or "max_value" in kwargs:
        extra = f" [{kwargs.get('min_value', '-inf')}, {kwargs.get('max_value', 'inf')}]"
    return f"{kwargs['column']}: {kind}{extra}"


def batch_params(batch_date: dt.date) -> dict[str, Any]:
    """The suite parameters of one batch: its date, and its last instant (the cut)."""
    cut = dt.datetime.combine(batch_date, dt.time.max)
    return {"batch_date": pd.Timestamp(batch_date), "batch_cut": pd.Timestamp(cut)}


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, pd.Timestamp | dt.datetime):
        return f"timestamp '{pd.Timestamp(value).isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class SqlRule:
    """One expectation as SQL: ``fails`` is true for a row that breaks it (``window`` rules use OVER)."""

    rule: str
    column: str
    fails: str
    expectation: dict[str, Any]


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def compile_expectation(exp: dict[str, Any], params: dict[str, Any], column_type: str) -> str:
    """The SQL predicate that is true for rows breaking one expectation; null values pass every rule but
    not-null, as in Great Expectations. Raises ValueError for an expectation type this engine cannot run."""
    kind = exp["type"]
    kwargs = {k: _substitute(v, params) for k, v in exp["kwargs"].items()}
    col = _quoted(kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return f"{col} is null"
    if kind == "expect_column_values_to_be_in_set":
        values = ", ".join(_sql_literal(v) for v in kwargs["value_set"])
        return f"{col} is not null and {col} not in ({values})"
    if kind == "expect_column_values_to_be_between":
        checks = []
        cast = "timestamp" if column_type == "timestamp" else "date" if column_type == "date" else None
        for key, op_strict, op in (("min_value", "<=", "<"), ("max_value", ">=", ">")):
            if kwargs.get(key) is None:
                continue
            bound = _sql_literal(kwargs[key])
            if cast and isinstance(kwargs[key], pd.Timestamp | dt.date):
                bound = f"cast({bound} as {cast})"
            strict = kwargs.get("strict_min" if key == "min_value" else "strict_max", False)
            checks.append(f"{col} {op_strict if strict else op} {bound}")
        return f"{col} is not null and ({' or '.join(checks) or 'false'})"
    if kind == "expect_column_values_to_be_unique":
        return f"{col} is not null and count(*) over (partition by {col}) > 1"
    if kind == "expect_column_values_to_match_regex":
        return f"{col} is not null and not regexp_matches({col}::varchar, {_sql_literal(kwargs['regex'])})"
    if kind == "expect_column_values_to_not_match_regex":
        return f"{col} is not null and regexp_matches({col}::varchar, {_sql_literal(kwargs['regex'])})"
    raise ValueError(
        f"expectation type {kind!r} (column {kwargs['column']}) cannot be evaluated in the warehouse: use "
        "not_be_null, be_in_set, be_between, be_unique, match_regex or not_match_regex"
    )


class SuiteRunner:
    """The company's suites compiled to SQL, one compilation per source and batch date (cheap; suites are
    read once per runner)."""

    def __init__(self, folder: Path | None = None, contract: Contract | None = None) -> None:
        self.folder = folder
        self.contract = contract or active_contract()
        self._docs: dict[str, dict[str, Any]] = {}

    def suite(self, source: str) -> dict[str, Any]:
        if source not in self._docs:
            self._docs[source] = load_suite(source, self.folder, self.contract)
        return self._docs[source]

    def rules(self, source: str, present: set[str], batch_date: dt.date) -> list[SqlRule]:
        """SQL predicates of the source's suite for one file (expectations on absent optional columns are
        skipped, as the columns are)."""
        doc = self.suite(source)
        params = batch_params(batch_date)
        contract_source = self.contract.sources[source]
        types = {c.name: c.type for c in contract_source.columns}
        out = []
        for exp in doc["expectations"]:
            column = exp["kwargs"].get("column")
            if column not in present:
                continue
            try:
                fails = compile_expectation(exp, params, types.get(column, "string"))
            except ValueError as exc:
                raise ValueError(f"suite {doc.get('name', source)}: {exc}") from exc
            out.append(SqlRule(describe(exp), column, fails, exp))
        return out


@dataclass
class RuleResult:
    rule: str
    column: str
    unexpected_rows: list[int]


def gx_validate(frame: pd.DataFrame, doc: dict[str, Any], batch_date: dt.date) -> list[RuleResult]:
    """Run a suite through Great Expectations itself (pandas, complete results) on a frame indexed by row
    number; the failing row numbers per expectation. Slow: for checking the SQL engine, not for ingestion."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    with contextlib.suppress(Exception):  # the progress bar setting moved between GX versions
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("landing")
        .add_dataframe_asset("file")
        .add_batch_definition_whole_dataframe("whole")
    )
    params = batch_params(batch_date)
    suite = gx.ExpectationSuite(name=f"{doc['name']}_check")
    configs = []
    for exp in doc["expectations"]:
        kwargs = {k: _substitute(v, params) for k, v in exp["kwargs"].items()}
        if kwargs.get("column") not in frame.columns:
            continue
        name = "".join(part.capitalize() for part in exp["type"].split("_"))
        suite.add_expectation(getattr(gx.expectations, name)(**kwargs))
        configs.append(exp)
    if not configs or frame.empty:
        return []
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    pending: dict[tuple[str, Any], list[Any]] = {}
    for res in result.results:
        cfg = res.expectation_config
        if cfg is not None:
            pending.setdefault((cfg.type, cfg.kwargs.get("column")), []).append(res)
    out = []
    for exp in configs:
        res = pending[(exp["type"], exp["kwargs"]["column"])].pop(0)
        unexpected = res.result.get("unexpected_index_list") or []
        rows = [int(i) for i in unexpected if not isinstance(i, dict)]
        out.append(RuleResult(describe(exp), exp["kwargs"]["column"], rows))
    return out
