"""Finding delivered files in the landing folder, laid out as the data contract describes.

The contract's layout is ``<source>/<batch_date>/<source>_<batch_date>_partNNNN.<csv|parquet>``. Real exports
bend it: upper-case names and extensions, a file dropped next to the batch folders, a folder named after the
source in the singular. :func:`scan` reads a name whenever it is unambiguous and lists everything else as not
understood, with why, so that nothing is silently ignored:

- source folder and file names are matched ignoring case; a file directly in a source folder takes its batch
  date from its name; a file with another name inside a batch folder takes the folder's source and date;
- a date that is not a calendar date (``2025-06-31``), a source folder the contract does not know
  (``account/``: "did you mean accounts?"), an unknown extension: not understood;
- a name whose date disagrees with its batch folder, or a batch date in the future: the file is *rejected*
  (ingestion records it with the reason; a typo like ``2052`` must not stretch the snapshot calendar);
- only regular files are read: a symlink to a device or a fifo, or a socket, is refused (reading it would hang).
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from churn_platform.contract import FILE_FORMATS, active_contract

_FILE = re.compile(
    r"^(?P<source>[a-z_]+)_(?P<date>\d{4}-\d{2}-\d{2})_part(?P<part>\d{1,6})\.(?P<fmt>csv|parquet)$",
    re.IGNORECASE,
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A batch may be cut a day ahead of this machine's clock (time zones); later than that is a typo.
FUTURE_TOLERANCE = dt.timedelta(days=1)


@dataclass(frozen=True)
class LandingFile:
    """One delivered file: which source, which batch, where, how big; ``problem`` rejects it at ingestion."""

    source: str
    batch_date: dt.date
    path: Path
    file_format: str
    size_bytes: int
    problem: str = ""


@dataclass(frozen=True)
class NotUnderstood:
    """An entry of the landing folder that is not read, and why."""

    path: Path
    reason: str


@dataclass
class Scan:
    files: list[LandingFile] = field(default_factory=list)
    not_understood: list[NotUnderstood] = field(default_factory=list)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _regular(path: Path) -> str:
    """Empty when the path is (or links to) a regular file, else what it is."""
    try:
        mode = os.stat(path).st_mode  # follows symlinks: a link to a fifo is a fifo
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return ""
    kind = (
        "a fifo"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    return f"is {kind}{' (through a symlink)' if path.is_symlink() else ''}: only regular files are read"


def scan(landing: Path, today: dt.date | None = None) -> Scan:
    """Every delivered file under ``landing`` (oldest batch first) and every entry that is not understood."""
    found = Scan()
    if not landing.exists():
        return found
    today = today or dt.datetime.now(dt.UTC).date()
    sources = {name.lower(): name for name in active_contract().sources}
    for top in sorted(landing.iterdir()):
        if top.name.startswith("."):
            continue
        source = sources.get(top.name.lower())
        if source is None:
            close = difflib.get_close_matches(top.name.lower(), list(sources), n=1, cutoff=0.75)
            hint = f": did you mean {close[0]}?" if close else f"; sources are {', '.join(sources.values())}"
            found.not_understood.append(NotUnderstood(top, f"not a source folder of the contract{hint}"))
            continue
        if not top.is_dir():
            found.not_understood.append(NotUnderstood(top, "a file where a source folder was expected"))
            continue
        for entry in sorted(top.rglob("*")):
            rel = entry.relative_to(top)
            if any(part.startswith(".") for part in rel.parts):
                continue  # temporary or hidden files (writers rename them when complete)
            if entry.is_dir() and not entry.is_symlink():
                if len(rel.parts) == 1 and _date(entry.name) is None:
                    reason = (
                        "not a calendar date"
                        if _DATE.match(entry.name)
                        else "not a batch folder (YYYY-MM-DD)"
                    )
                    found.not_understood.append(NotUnderstood(entry, f"batch folder {reason}"))
                continue
            _classify(found, source, top, entry, rel, today)
    found.files.sort(key=lambda f: (f.batch_date, f.source, f.path.name.lower()))
    return found


def _classify(found: Scan, source: str, top: Path, entry: Path, rel: Path, today: dt.date) -> None:
    irregular = _regular(entry)
    if irregular:
        found.not_understood.append(NotUnderstood(entry, irregular))
        return
    fmt = entry.suffix.lower().lstrip(".")
    if fmt not in FILE_FORMATS:
        found.not_understood.append(
            NotUnderstood(
                entry, f"not a {' or '.join(FILE_FORMATS)} file (extension {entry.suffix or 'none'})"
            )
        )
        return
    if len(rel.parts) > 2:
        found.not_understood.append(NotUnderstood(entry, "nested deeper than <source>/<batch_date>/<file>"))
        return
    folder_text = rel.parts[0] if len(rel.parts) == 2 else None
    folder_date = _date(folder_text) if folder_text else None
    if folder_text is not None and folder_date is None:
        return  # the batch folder itself is listed as not understood
    match = _FILE.match(entry.name)
    name_date: dt.date | None = None
    if match:
        if match["source"].lower() != source:
            found.not_understood.append(
                NotUnderstood(entry, f"named for source {match['source']!r} but delivered in {source}/")
            )
            return
        name_date = _date(match["date"])
        if name_date is None:
            found.not_understood.append(
                NotUnderstood(entry, f"{match['date']} in its name is not a calendar date")
            )
            return
    batch = folder_date or name_date
    if batch is None:
        found.not_understood.append(
            NotUnderstood(
                entry, "outside a batch folder and without <source>_<YYYY-MM-DD>_partNNNN in its name"
            )
        )
        return
    problem = ""
    if folder_date is not None and name_date is not None and folder_date != name_date:
        problem = (
            f"{entry}: the date in its name ({name_date}) disagrees with its batch folder ({folder_date}); "
            "fix the name or move the file to its batch"
        )
    elif batch > today + FUTURE_TOLERANCE:
        problem = f"{entry}: batch date {batch} lies in the future (today is {today}); a typo in the date?"
    found.files.append(LandingFile(source, batch, entry, fmt, entry.stat().st_size, problem))


def discover(landing: Path, today: dt.date | None = None) -> list[LandingFile]:
    """Every delivered file under the landing folder, oldest batch first (see :func:`scan`)."""
    return scan(landing, today).files
