"""The audit log: who signed in, exported and erased what, in a SQLite file every process may append to.

The dashboard (sign-ins, exports), the CLI (erasures) and the API write here; the dashboard shows it to roles
with the ``audit_log`` permission. Entries never hold a customer's personal data: an erasure is recorded by
the customer's salted hash, with its reason.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA = """
create table if not exists audit_log (
    id integer primary key autoincrement,
    at text not null,
    actor text not null,
    role text,
    action text not null,
    detail text
)
"""

ACTIONS = ("sign_in", "sign_out", "export", "erasure", "api_key")


def record(path: Path, actor: str, action: str, role: str | None = None, **detail: Any) -> None:
    """Append one entry. ``action`` is one of :data:`ACTIONS`; ``detail`` is stored as JSON."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30)) as con, con:
        con.execute(SCHEMA)
        con.execute(
            "insert into audit_log (at, actor, role, action, detail) values (?, ?, ?, ?, ?)",
            [
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                actor,
                role,
                action,
                json.dumps(detail, sort_keys=True, default=str),
            ],
        )


def entries(path: Path, limit: int = 500) -> pd.DataFrame:
    """The newest entries first: at, actor, role, action, detail."""
    columns = ["at", "actor", "role", "action", "detail"]
    if not path.exists():
        return pd.DataFrame(columns=columns)
    with closing(sqlite3.connect(path, timeout=30)) as con:
        con.execute(SCHEMA)
        rows = con.execute(
            f"select {', '.join(columns)} from audit_log order by id desc limit ?", [limit]
        ).fetchall()
    return pd.DataFrame(rows, columns=columns)
