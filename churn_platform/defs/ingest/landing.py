"""What has been delivered: an inventory of the landing folder, the first node of the lineage."""

from __future__ import annotations

from collections import Counter

import dagster as dg

from churn_platform.defs.resources import LandingResource
from churn_platform.lib.landing import discover


@dg.asset(
    group_name="ingest", kinds={"file"}, description="Files delivered to the landing folder, per source."
)
def landing_files(landing: LandingResource) -> dg.MaterializeResult:
    files = discover(landing.root)
    if not files:
        raise dg.Failure(
            f"The landing folder {landing.root} holds no contract files. Deliver files there "
            "(see docs/data-contract.md) or run `churn-platform simulate`."
        )
    per_source = Counter(f.source for f in files)
    size: Counter[str] = Counter()
    for f in files:
        size[f.source] += f.size_bytes
    rows = "\n".join(f"| {s} | {per_source[s]} | {size[s] / 1e6:.1f} |" for s in sorted(per_source))
    return dg.MaterializeResult(
        metadata={
            "files": len(files),
            "batches": len({f.batch_date for f in files}),
            "latest_batch": str(max(f.batch_date for f in files)),
            "landing_folder": dg.MetadataValue.path(str(landing.root)),
            "per_source": dg.MetadataValue.md("| source | files | MB |\n|---|---|---|\n" + rows),
        }
    )
