"""API keys with scopes, stored as SHA-256 hashes: the key itself is shown once, when it is created.

The file (``CHURN_API_KEYS_FILE``, default ``data/api/keys.json``, mode 0600) holds for each key its name, the
first characters (to tell keys apart in a listing), the hash and the scopes. A request presents the key in
``Authorization: Bearer <key>`` or ``X-API-Key``; it is hashed and looked up, never logged or stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCOPES = ("read", "score")
PREFIX = "cpk_"


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]
    shown: str  # the first characters, for listings


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    doc = json.loads(path.read_text())
    keys = doc.get("keys", []) if isinstance(doc, dict) else []
    return [k for k in keys if isinstance(k, dict)]


def _save(path: Path, keys: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"keys": keys}, fh, indent=2)
    os.replace(tmp, path)


def create_key(path: Path, name: str, scopes: list[str]) -> str:
    """Add a key named ``name`` with ``scopes`` (read, score); returns the key, which is not kept anywhere.

    Raises ValueError for an unknown scope, no scope, or a name already in use.
    """
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}")
    keys = _load(path)
    if any(k.get("name") == name for k in keys):
        raise ValueError(f"an API key named {name!r} exists already: revoke it first or pick another name")
    key = PREFIX + secrets.token_urlsafe(32)
    keys.append(
        {
            "name": name,
            "shown": key[: len(PREFIX) + 4],
            "sha256": _hash(key),
            "scopes": sorted(set(scopes)),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    _save(path, keys)
    return key


def revoke_key(path: Path, name: str) -> bool:
    keys = _load(path)
    kept = [k for k in keys if k.get("name") != name]
    _save(path, kept)
    return len(kept) < len(keys)


def _key(entry: dict[str, Any]) -> ApiKey:
    scopes = entry.get("scopes") or []
    return ApiKey(str(entry["name"]), frozenset(str(s) for s in scopes), str(entry.get("shown", "")))


def list_keys(path: Path) -> list[ApiKey]:
    return [_key(k) for k in _load(path)]


class KeyRing:
    """The keys of one file, re-read when the file changes (a revoked key stops working without a restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = None
        self._by_hash: dict[str, ApiKey] = {}

    def _refresh(self) -> None:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        self._by_hash = {str(k["sha256"]): _key(k) for k in (_load(self.path) if stamp is not None else [])}
        self._stamp = stamp

    def find(self, presented: str) -> ApiKey | None:
        self._refresh()
        return self._by_hash.get(_hash(presented))

    def __len__(self) -> int:
        self._refresh()
        return len(self._by_hash)
