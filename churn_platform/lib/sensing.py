"""Noticing new deliveries without opening the warehouse (a running pipeline may hold its lock)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from churn_platform.lib.landing import LandingFile, discover


@dataclass(frozen=True)
class NewDeliveries:
    files: list[LandingFile]
    cursor: str

    @property
    def run_key(self) -> str:
        names = "\n".join(f"{f.path}:{f.size_bytes}" for f in self.files)
        return hashlib.sha256(names.encode()).hexdigest()[:16]


def new_deliveries(landing: Path, cursor: str | None) -> NewDeliveries:
    """Files whose (path, size, mtime) were not seen at the cursor; the cursor remembers what was seen."""
    seen: dict[str, list[int]] = json.loads(cursor) if cursor else {}
    current: dict[str, list[int]] = {}
    fresh = []
    for f in discover(landing):
        stat = f.path.stat()
        sig = [stat.st_size, stat.st_mtime_ns]
        current[str(f.path)] = sig
        if seen.get(str(f.path)) != sig:
            fresh.append(f)
    return NewDeliveries(fresh, json.dumps(current, sort_keys=True))
