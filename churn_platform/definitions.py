"""The Dagster code location: every definition is discovered in the ``defs/`` folder, one folder a domain.

Nothing here does work at import time; the webserver, the daemon and the tests all load this module.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
