"""The erasure suppression list: salted hashes of erased customers, so their re-delivered rows are dropped.

An erased customer's id must never be stored again in plain text, not even on the list that keeps them out:
the list holds ``sha256(salt + customer_id)``, with a random salt made once per installation
(``data/privacy/salt``, mode 0600). Ingestion calls :func:`drop_erased_rows` on every file before anything else
sees it; delivery and CRM write-back ask :meth:`Suppression.contains` before contacting anyone.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SALT_FILE = "salt"
LIST_FILE = "erased_customers.txt"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


@dataclass
class Suppression:
    """The suppression list of one installation (``folder`` is ``settings.privacy``)."""

    folder: Path
    _hashes: set[str] | None = field(default=None, repr=False)

    @property
    def salt(self) -> str:
        path = self.folder / SALT_FILE
        if not path.exists():
            _write_private(path, secrets.token_hex(32))
        return path.read_text().strip()

    def digest(self, customer_id: str) -> str:
        """The salted hash that stands for a customer once erased (hex, 64 characters)."""
        return hashlib.sha256(f"{self.salt}:{customer_id}".encode()).hexdigest()

    @property
    def hashes(self) -> set[str]:
        if self._hashes is None:
            path = self.folder / LIST_FILE
            self._hashes = set(path.read_text().split()) if path.exists() else set()
        return self._hashes

    def add(self, customer_id: str) -> str:
        """Put a customer on the list; returns their salted hash (the tombstone)."""
        digest = self.digest(customer_id)
        if digest not in self.hashes:
            self.hashes.add(digest)
            _write_private(self.folder / LIST_FILE, "".join(f"{h}\n" for h in sorted(self.hashes)))
        return digest

    def contains(self, customer_id: str) -> bool:
        return bool(self.hashes) and self.digest(customer_id) in self.hashes


def drop_erased_rows(con: Any, view: str = "incoming", column: str = "customer_id") -> int:
    """Drop the rows of erased customers from the delivered file ``view`` (a DuckDB view); returns how many.

    Ingestion calls this once per file, before validation and quarantine, so nothing of an erased customer's
    re-delivered rows is stored anywhere (not even in the quarantine). Row numbers stay those of the file.
    A file without the column, or an empty list, is untouched (and not copied).
    """
    from churn_platform.settings import get_settings

    suppression = Suppression(get_settings().privacy)
    if not suppression.hashes:
        return 0
    if column not in [r[0] for r in con.execute(f"describe {view}").fetchall()]:
        return 0
    ids = con.execute(
        f'select distinct trim("{column}"::varchar) from {view} where "{column}" is not null'
    ).fetchall()
    erased = [i for (i,) in ids if suppression.contains(str(i))]
    if not erased:
        return 0
    con.execute(
        f"create or replace temp table _kept_rows as select * from {view} "
        f'where trim("{column}"::varchar) is null or not list_contains(?::varchar[], trim("{column}"::varchar))',
        [erased],
    )
    total = con.execute(f"select count(*) from {view}").fetchall()[0][0]
    kept = con.execute("select count(*) from _kept_rows").fetchall()[0][0]
    con.execute(f"create or replace temp view {view} as select * from _kept_rows")
    return int(total - kept)
