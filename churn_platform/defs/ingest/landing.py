"""What has been delivered: an inventory of the landing folder, the first node of the lineage."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import dagster as dg
import pandas as pd

from churn_platform.defs.ingest.connectors import connector_asset_keys
from churn_platform.defs.resources import LandingResource, WarehouseResource
from churn_platform.lib.landing import scan
from churn_platform.profile import active_profile


@dg.asset(
    group_name="ingest",
    kinds={"file"},
    deps=connector_asset_keys(active_profile()),  # the application database lands files here too
    description="Files delivered to the landing folder, per source; entries that are not understood (a name "
    "that fits no source or batch, a non-regular file) are listed in the metadata and raw._landing_issues.",
)
def landing_files(landing: LandingResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    found = scan(landing.root)
    files = found.files
    issues = pd.DataFrame(
        {
            "path": [str(n.path) for n in found.not_understood] + [str(f.path) for f in files if f.problem],
            "problem": [n.reason for n in found.not_understood] + [f.problem for f in files if f.problem],
            "seen_at": pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        }
    )
    with warehouse.connect() as con:
        con.execute("create schema if not exists raw")
        con.register("issues", issues)
        con.execute("create or replace table raw._landing_issues as select * from issues")
        con.unregister("issues")
    if not files:
        raise dg.Failure(
            f"The landing folder {landing.root} holds no contract files. Deliver files there "
            "(see docs/data-contract.md) or run `churn-platform simulate`."
            + (f" {len(issues)} entries were not understood: see raw._landing_issues." if len(issues) else "")
        )
    per_source = Counter(f.source for f in files)
    size: Counter[str] = Counter()
    for f in files:
        size[f.source] += f.size_bytes
    rows = "\n".join(f"| {s} | {per_source[s]} | {size[s] / 1e6:.1f} |" for s in sorted(per_source))
    issue_md = "| entry | why it is not read |\n|---|---|\n" + "\n".join(
        f"| {p} | {why} |" for p, why in zip(issues["path"], issues["problem"], strict=True)
    )
    return dg.MaterializeResult(
        metadata={
            "files": len(files),
            "batches": len({f.batch_date for f in files if not f.problem}),
            "latest_batch": str(max((f.batch_date for f in files if not f.problem), default="none")),
            "landing_folder": dg.MetadataValue.path(str(landing.root)),
            "per_source": dg.MetadataValue.md("| source | files | MB |\n|---|---|---|\n" + rows),
            "not_understood": dg.MetadataValue.int(len(issues)),
            "not_understood_entries": dg.MetadataValue.md(issue_md if len(issues) else "none"),
        }
    )
