"""Keep the dbt manifest current without a manual ``dbt parse`` step, and find the dbt executable.

``DbtProject.prepare_if_dev`` only re-parses under ``dagster dev``. The CLI's ``materialize``, the test
suite and a fresh checkout load the code location without it, so the manifest is also prepared here
whenever it is missing or older than any file of the dbt project.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject

_PROJECT_FILES = ("*.yml", "*.sql", "*.csv")
_SKIP_DIRS = {"target", "dbt_packages", "logs"}


def ensure_dbt_on_path() -> None:
    """dagster-dbt runs ``dbt`` from PATH; when the virtualenv is not activated (the CLI starts Dagster by
    its full path), put this interpreter's scripts folder, where ``dbt`` is installed, on PATH."""
    scripts = Path(sys.executable).parent
    if shutil.which("dbt") is None and (scripts / "dbt").exists():
        os.environ["PATH"] = os.pathsep.join([str(scripts), os.environ.get("PATH", "")])


def newest_source_mtime(project_dir: Path) -> float:
    """Latest modification time of the files dbt parses (models, macros, tests, project and profile)."""
    newest = 0.0
    for pattern in _PROJECT_FILES:
        for path in project_dir.rglob(pattern):
            if _SKIP_DIRS.isdisjoint(path.relative_to(project_dir).parts):
                newest = max(newest, path.stat().st_mtime)
    return newest


def manifest_is_stale(project: DbtProject) -> bool:
    manifest = Path(project.manifest_path)
    return not manifest.exists() or manifest.stat().st_mtime < newest_source_mtime(Path(project.project_dir))


def prepare_manifest_if_stale(project: DbtProject) -> None:
    """Run the project's preparer (``dbt parse``, guarded against concurrent loads) when the manifest is
    missing or out of date."""
    if project.preparer is not None and manifest_is_stale(project):
        project.preparer.prepare(project)
