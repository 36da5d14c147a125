"""Export mappings: a system's own export (Stripe, Zendesk, ...) read as a contract source, without a script.

A company's profile may say, per source, how its export's columns map onto the contract
(:class:`churn_platform.profile.ExportMapping`). :func:`mapped_select` turns that into one SQL ``select`` over
the file as read, so the rest of ingestion (typing, the suite, quarantine) sees contract columns. Values are
still judged by the contract: a mapping renames and converts, it never waives a rule.

Per contract column, in this order: the export column (or the first non-empty of several, or the latest of
several timestamps: ``latest``), its value map, its date format, a monthly amount (amount x quantity / months
of the billing interval: ``monthly``), its scale, and a default when it is empty or absent.
"""

from __future__ import annotations

from churn_platform.contract import Column, Source
from churn_platform.profile import ExportMapping, MonthlyAmount


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class MappingError(ValueError):
    """A mapping that does not fit the contract or the delivered file; the message names both."""


def contract_columns_named(mapping: ExportMapping) -> set[str]:
    """Every contract column a mapping names, in any of its keys."""
    return (
        set(mapping.columns)
        | set(mapping.values)
        | set(mapping.formats)
        | set(mapping.scale)
        | set(mapping.defaults)
        | set(mapping.latest)
        | set(mapping.monthly)
    )


def export_columns_named(mapping: ExportMapping, source: Source) -> list[str]:
    """The export's columns a mapping reads for a source (a contract column left unmapped reads its own
    name), in contract order; what a connector needs to select from a table."""
    out: list[str] = []
    for c in source.columns:
        for name in _their_names(mapping, c.name):
            if name not in out:
                out.append(name)
        monthly = mapping.monthly.get(c.name)
        if monthly is not None:
            for extra in (monthly.quantity, monthly.interval, monthly.interval_count):
                if extra is not None and extra not in out:
                    out.append(extra)
    return out


def _their_names(mapping: ExportMapping, column: str) -> tuple[str, ...]:
    if column in mapping.latest:
        return mapping.latest[column]
    given = mapping.columns.get(column, column)
    return (given,) if isinstance(given, str) else tuple(given)


def check_mapping(mapping: ExportMapping, source: Source) -> None:
    """Raise MappingError when a mapping names a contract column the source lacks, or applies a conversion
    to a column of the wrong type (formats to dates and timestamps, scale and monthly to decimals)."""
    contract_cols = {c.name: c for c in source.columns}
    unknown = sorted(c for c in contract_columns_named(mapping) if c not in contract_cols)
    if unknown:
        raise MappingError(
            f"the {source.name} export mapping names column(s) {', '.join(unknown)} the contract lacks; "
            f"its columns are {', '.join(contract_cols)}"
        )
    for name in mapping.formats:
        if contract_cols[name].type not in ("date", "timestamp"):
            raise MappingError(f"formats.{name}: {source.name}.{name} is not a date or timestamp")
    for name in mapping.latest:
        if contract_cols[name].type not in ("date", "timestamp"):
            raise MappingError(f"latest.{name}: {source.name}.{name} is not a date or timestamp")
    for key, names in (("scale", mapping.scale), ("monthly", mapping.monthly)):
        for name in names:
            if contract_cols[name].type != "decimal":
                raise MappingError(f"{key}.{name}: {source.name}.{name} is not a decimal")
    both = sorted(set(mapping.latest) & set(mapping.columns))
    if both:
        raise MappingError(f"{', '.join(both)}: give either columns or latest, not both")


def _parsed(text: str, col: Column, fmt: str | None) -> str:
    """SQL parsing export text into the column's date or timestamp (with the format when given)."""
    target = "date" if col.type == "date" else "timestamp"
    if fmt:
        return f"cast(try_strptime({text}, {_text(fmt)}) as {target})"
    return f"try_cast(cast(try_cast({text} as timestamptz) as timestamp) as {target})"


def _months(monthly: MonthlyAmount, delivered: list[str]) -> str:
    interval = f"lower(trim({_q(monthly.interval)}::varchar))"
    whens = " ".join(f"when {_text(k.lower())} then {float(v)!r}" for k, v in monthly.months.items())
    months = f"(case {interval} {whens} end)"
    if monthly.interval_count is not None:
        months = f"({months} * coalesce(try_cast(nullif(trim({_q(monthly.interval_count)}::varchar), '') as double), 1))"
    return months


def mapped_select(
    mapping: ExportMapping, source: Source, delivered: list[str], relation: str, keep_types: bool = False
) -> tuple[str, list[str]]:
    """SQL selecting contract columns (plus ``_row_number``) from ``relation``, the export as read, and the
    contract columns it provides. Columns are text (ingestion types them), except with ``keep_types``, where a
    column that is only renamed keeps the type it was read with (a database's timestamps, numbers, booleans).
    Raises MappingError when the mapping does not fit the contract or a mapped export column is missing."""
    check_mapping(mapping, source)
    selects: list[str] = []
    provided: list[str] = []
    for c in source.columns:
        names = _their_names(mapping, c.name)
        explicit = c.name in mapping.columns or c.name in mapping.latest
        present = [n for n in names if n in delivered]
        missing = [n for n in names if n not in delivered]
        if explicit and not present:  # of several alternatives, those present are used
            raise MappingError(
                f"the {source.name} export has no column {' or '.join(repr(m) for m in missing)} (mapped to "
                f"{c.name}); its columns are {', '.join(delivered)}"
            )
        monthly = mapping.monthly.get(c.name)
        if monthly is not None and present:
            needed = [
                n for n in (monthly.quantity, monthly.interval, monthly.interval_count) if n is not None
            ]
            absent = [n for n in needed if n not in delivered]
            if absent:
                raise MappingError(
                    f"the {source.name} export has no column {absent[0]!r} (monthly.{c.name}); its columns "
                    f"are {', '.join(delivered)}"
                )
        if not present:
            if c.name in mapping.defaults:
                selects.append(f"{_text(mapping.defaults[c.name])} as {_q(c.name)}")
                provided.append(c.name)
            continue
        converted = len(present) > 1 or any(
            c.name in part
            for part in (mapping.latest, mapping.values, mapping.formats, mapping.scale, mapping.defaults,
                         mapping.monthly)
        )  # fmt: skip
        if keep_types and not converted:
            selects.append(f"{_q(present[0])} as {_q(c.name)}")
            provided.append(c.name)
            continue
        texts = [f"nullif(trim({_q(n)}::varchar), '')" for n in present]
        if c.name in mapping.latest:
            parsed = [_parsed(t, c, mapping.formats.get(c.name)) for t in texts]
            shown = "'%Y-%m-%d'" if c.type == "date" else "'%Y-%m-%d %H:%M:%S.%f'"
            latest = f"greatest({', '.join(parsed)})" if len(parsed) > 1 else parsed[0]
            # unparsable text stays (the first present one), and fails typing with the column's rule
            expr = f"coalesce(strftime({latest}, {shown}), {texts[0]})"
        else:
            expr = texts[0] if len(texts) == 1 else f"coalesce({', '.join(texts)})"
            if c.name in mapping.values:
                whens = " ".join(
                    f"when {_text(k)} then {_text(v)}" for k, v in mapping.values[c.name].items()
                )
                expr = f"case {expr} {whens} else {expr} end"
            if c.name in mapping.formats:
                when = _parsed(expr, c, mapping.formats[c.name])
                shown = "'%Y-%m-%d'" if c.type == "date" else "'%Y-%m-%d %H:%M:%S.%f'"
                expr = f"coalesce(strftime({when}, {shown}), {expr})"  # unparsable text stays, fails typing
        if monthly is not None:
            amount = f"try_cast({expr} as double)"
            quantity = (
                f"coalesce(try_cast(nullif(trim({_q(monthly.quantity)}::varchar), '') as double), 1)"
                if monthly.quantity
                else "1"
            )
            months = _months(monthly, delivered)
            interval_text = f"nullif(trim({_q(monthly.interval)}::varchar), '')"
            # an interval the mapping does not know leaves readable text that fails typing (and is quarantined)
            expr = (
                f"case when {expr} is null then null "
                f"when {months} is null then 'unknown billing interval ' || coalesce({interval_text}, '(empty)') "
                f"when {amount} is null then {expr} "
                f"else cast({amount} * {quantity} / {months} as varchar) end"
            )
        if c.name in mapping.scale:
            expr = (
                f"case when try_cast({expr} as double) is null then {expr} "
                f"else cast(try_cast({expr} as double) * {float(mapping.scale[c.name])!r} as varchar) end"
            )
        if c.name in mapping.defaults:
            expr = f"coalesce({expr}, {_text(mapping.defaults[c.name])})"
        selects.append(f"{expr} as {_q(c.name)}")
        provided.append(c.name)
    return f"select {', '.join(selects)}, _row_number from {relation}", provided
