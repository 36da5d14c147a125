"""A real PostgreSQL server for the connector tests: Debian's binaries, a temporary data folder, a free port.

``scripts/ensure_postgres.sh`` (sourced by ``scripts/test.sh``) installs the ``postgresql`` package. The server
refuses to run as root, so as root it runs as the package's ``postgres`` user (``runuser``), in a folder that
user owns; it listens on 127.0.0.1 only, and is stopped and removed afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "s3cret-Pg-pw"  # appears in the URL; the tests assert it reaches no log and no metadata


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError(
        "PostgreSQL's server binaries are missing: run `bash scripts/ensure_postgres.sh` "
        "(or apt-get install -y postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str = "churn"
    database: str = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{PASSWORD}@127.0.0.1:{self.port}/{self.database}"


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """Start a throw-away PostgreSQL server; stop and delete it on exit."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="churn-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise RuntimeError(
                "running as root needs the postgres user (the postgresql package makes it)"
            ) from exc
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

    def run(tool: str, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*as_user, str(bindir / tool), *args], check=check, capture_output=True, env=env, cwd=root
        )

    run("initdb", "-D", str(data), "-U", "churn", "-A", "trust", "-E", "UTF8", "--no-sync")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    try:
        run(
            "pg_ctl",
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        yield Postgres(port)
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)
