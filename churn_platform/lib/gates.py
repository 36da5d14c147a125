"""The quality gate of a raw source judges the state of the source, not only the rows of the current run.

A source whose delivery was mostly quarantined stays blocked, run after run, until it is fixed or explicitly
accepted (a re-run with no new files does not wash it out):

- per **batch** (delivery date) of the source, the **open quarantine** counts the rows still held back: not
  released (a row held only for an unknown customer is released once accounts know them) and not superseded
  (a row whose key was since delivered again, and loaded, in a later file counts as fixed);
- a batch fails when open quarantine / rows delivered in it exceeds the limit, unless someone accepted it
  (``churn-platform accept-quarantine``, recorded in ``raw._gate_acceptances``);
- the gate fails while any batch fails; the verdict speaks of the latest failing batch (else the latest).

The verdict names the top broken rules with counts and an example (file, row, column, value), for the run log
and the check's metadata in the UI.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import dataclass, field

import duckdb

from churn_platform.contract import Source

EXAMPLE_VALUE_CHARS = 40


@dataclass(frozen=True)
class RuleCount:
    rule: str
    rows: int
    example: str  # "<file> row <n>, <column> = <value>"


@dataclass
class GateVerdict:
    """The gate's judgement of one source's latest delivery."""

    source: str
    batch_date: dt.date | None
    rows: int
    open_quarantine: int
    max_share: float
    accepted: str | None = None  # who accepted the batch and why, if someone did
    top_rules: list[RuleCount] = field(default_factory=list)
    failing_batches: list[dt.date] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.open_quarantine / self.rows if self.rows else 0.0

    @property
    def passed(self) -> bool:
        return not self.failing_batches

    def summary(self) -> str:
        """One paragraph for the run log and the check's description."""
        if self.batch_date is None:
            return f"{self.source}: nothing delivered yet"
        head = (
            f"{self.source}, delivery {self.batch_date}: {self.open_quarantine:,} of {self.rows:,} rows "
            f"held in quarantine ({self.share:.1%}, limit {self.max_share:.1%})"
        )
        if len(self.failing_batches) > 1:
            head += f"; {len(self.failing_batches)} deliveries fail the gate"
        if self.accepted:
            head += f"; accepted: {self.accepted}"
        elif not self.passed:
            head += (
                f". Fix and re-deliver the rows, or accept the batch: churn-platform accept-quarantine "
                f"{self.source} --batch {self.batch_date} --reason '...'"
            )
        rules = "; ".join(f"{r.rule}: {r.rows:,} rows (e.g. {r.example})" for r in self.top_rules)
        return head + (f". Top rules: {rules}" if rules else "")

    def rules_markdown(self) -> str:
        if not self.top_rules:
            return "none"
        rows = "\n".join(f"| {r.rule} | {r.rows:,} | {r.example} |" for r in self.top_rules)
        return "| rule | rows | example |\n|---|---|---|\n" + rows


ACCEPTANCES_DDL = """
create table if not exists raw._gate_acceptances (
    source varchar, batch_date date, accepted_by varchar, reason varchar, accepted_at timestamp
)
"""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def judge(con: duckdb.DuckDBPyConnection, source: Source, max_share: float, top: int = 3) -> GateVerdict:
    """The gate's verdict on the source (see the module docstring)."""
    con.execute(ACCEPTANCES_DDL)
    key = source.primary_key
    key_path = "'$." + json.dumps(key) + "'"
    batches = con.execute(
        f"""
        with delivered as (
            select batch_date, sum(rows_in_file) as rows from raw._ingested_files
            where source = ? group by batch_date
        ),
        held as (
            select q.batch_date, count(distinct (q.file_hash, q.row_number)) as held
            from raw._quarantine q
            where q.source = ? and q.released_at is null
              and not exists (
                  select 1 from raw.{source.name} r
                  where r.{_q(key)} = json_extract_string(q.record, {key_path}) and r._ingested_at > q.quarantined_at
              )
            group by q.batch_date
        ),
        accepted as (
            select batch_date,
                   arg_max(accepted_by || ' at ' || strftime(accepted_at, '%Y-%m-%d %H:%M') || ': ' || reason,
                           accepted_at) as note
            from raw._gate_acceptances where source = ? group by batch_date
        )
        select d.batch_date, d.rows, coalesce(h.held, 0), a.note
        from delivered d left join held h using (batch_date) left join accepted a using (batch_date)
        order by d.batch_date
        """,
        [source.name, source.name, source.name],
    ).fetchall()
    if not batches:
        return GateVerdict(source.name, None, 0, 0, max_share)
    failing = [b for b in batches if b[1] and b[2] / b[1] > max_share and b[3] is None]
    batch, rows, held, note = failing[-1] if failing else batches[-1]
    top_rules = [
        RuleCount(rule, int(n), f"{file} row {row}, {column} = {str(value)[:EXAMPLE_VALUE_CHARS]!r}")
        for rule, n, file, row, column, value in con.execute(
            f"""select rule, count(*), arg_min(file_name, row_number), min(row_number),
                       arg_min(column_name, row_number), arg_min(value, row_number)
                from raw._quarantine q
                where q.source = ? and q.batch_date = ? and q.released_at is null
                  and not exists (
                      select 1 from raw.{source.name} r
                      where r.{_q(key)} = json_extract_string(q.record, {key_path})
                        and r._ingested_at > q.quarantined_at
                  )
                group by rule order by count(*) desc, rule limit {int(top)}""",
            [source.name, batch],
        ).fetchall()
    ]
    verdict = GateVerdict(source.name, batch, int(rows), int(held), max_share, note, top_rules)
    verdict.failing_batches = [b[0] for b in failing]
    return verdict


def accept(con: duckdb.DuckDBPyConnection, source: str, batch_date: dt.date, reason: str) -> None:
    """Record that a person accepts a batch's quarantine as it is, so the gate lets the source through."""
    if not reason.strip():
        raise ValueError("say why the batch is accepted (--reason)")
    con.execute(ACCEPTANCES_DDL)
    delivered = con.execute(
        "select count(*) from raw._ingested_files where source = ? and batch_date = ?", [source, batch_date]
    ).fetchone()
    if not delivered or not delivered[0]:
        raise ValueError(f"no {source} batch {batch_date} was ingested; nothing to accept")
    con.execute(
        "insert into raw._gate_acceptances values (?, ?, ?, ?, ?)",
        [source, batch_date, getpass.getuser(), reason.strip(), dt.datetime.now(dt.UTC).replace(tzinfo=None)],
    )
