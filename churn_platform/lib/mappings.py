"""Export mappings: a system's own export (Stripe, Zendesk, ...) read as a contract source, without a script.

A company's profile may say, per source, how its export's columns map onto the contract
(:class:`churn_platform.profile.ExportMapping`). :func:`mapped_select` turns that into one SQL ``select`` over
the file as read, so the rest of ingestion (typing, the suite, quarantine) sees contract columns. Values are
still judged by the contract: a mapping renames and converts, it never waives a rule.
"""

from __future__ import annotations

from churn_platform.contract import Source
from churn_platform.profile import ExportMapping


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class MappingError(ValueError):
    """A mapping that does not fit the contract or the delivered file; the message names both."""


def mapped_select(
    mapping: ExportMapping, source: Source, delivered: list[str], relation: str
) -> tuple[str, list[str]]:
    """SQL selecting contract columns (as text, plus ``_row_number``) from ``relation``, the export as read,
    and the contract columns it provides. Raises MappingError when a mapped export column is missing."""
    contract_cols = {c.name: c for c in source.columns}
    named = set(mapping.columns) | set(mapping.values) | set(mapping.formats) | set(mapping.scale)
    unknown = sorted(c for c in named | set(mapping.defaults) if c not in contract_cols)
    if unknown:
        raise MappingError(
            f"the {source.name} export mapping names column(s) {', '.join(unknown)} the contract lacks"
        )
    selects: list[str] = []
    provided: list[str] = []
    for c in source.columns:
        their = mapping.columns.get(c.name, c.name if c.name in delivered else None)
        if their is not None and their not in delivered:
            raise MappingError(
                f"the {source.name} export has no column {their!r} (mapped to {c.name}); its columns are "
                f"{', '.join(delivered)}"
            )
        if their is None:
            if c.name in mapping.defaults:
                selects.append(f"{_text(mapping.defaults[c.name])} as {_q(c.name)}")
                provided.append(c.name)
            continue
        expr = f"nullif(trim({_q(their)}::varchar), '')"
        if c.name in mapping.values:
            whens = " ".join(f"when {_text(k)} then {_text(v)}" for k, v in mapping.values[c.name].items())
            expr = f"case {expr} {whens} else {expr} end"
        if c.name in mapping.formats:
            target = "date" if c.type == "date" else "timestamp"
            shown = "'%Y-%m-%d'" if target == "date" else "'%Y-%m-%d %H:%M:%S.%f'"
            parsed = f"cast(try_strptime({expr}, {_text(mapping.formats[c.name])}) as {target})"
            expr = f"coalesce(strftime({parsed}, {shown}), {expr})"  # unparsable text stays, and fails typing
        if c.name in mapping.scale:
            expr = f"cast(try_cast({expr} as double) * {float(mapping.scale[c.name])!r} as varchar)"
        if c.name in mapping.defaults:
            expr = f"coalesce({expr}, {_text(mapping.defaults[c.name])})"
        selects.append(f"{expr} as {_q(c.name)}")
        provided.append(c.name)
    return f"select {', '.join(selects)}, _row_number from {relation}", provided
