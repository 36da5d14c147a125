"""Finding delivered files in the landing folder, laid out as the data contract describes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from churn_platform.contract import FILE_FORMATS, active_contract

_FILE = re.compile(
    r"^(?P<source>[a-z_]+)_(?P<date>\d{4}-\d{2}-\d{2})_part(?P<part>\d{4})\.(?P<fmt>csv|parquet)$"
)


@dataclass(frozen=True)
class LandingFile:
    """One delivered file: which source, which batch, where, how big."""

    source: str
    batch_date: dt.date
    path: Path
    file_format: str
    size_bytes: int


def discover(landing: Path) -> list[LandingFile]:
    """Every complete contract file under the landing folder, oldest batch first (temporary files skipped)."""
    found: list[LandingFile] = []
    if not landing.exists():
        return found
    for source in active_contract().sources:
        folder = landing / source
        if not folder.is_dir():
            continue
        for path in folder.glob("*/*"):
            if path.name.startswith(".") or path.suffix.lstrip(".") not in FILE_FORMATS:
                continue
            match = _FILE.match(path.name)
            batch = path.parent.name
            try:
                batch_date = dt.date.fromisoformat(match["date"] if match else batch)
            except ValueError:
                continue
            found.append(LandingFile(source, batch_date, path, path.suffix.lstrip("."), path.stat().st_size))
    return sorted(found, key=lambda f: (f.batch_date, f.source, f.path.name))
