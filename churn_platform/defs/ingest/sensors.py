"""Deliveries launch the pipeline: a sensor on the landing folder starts ingestion and everything downstream."""

from __future__ import annotations

import dagster as dg

from churn_platform.defs.ingest.landing import landing_files
from churn_platform.defs.resources import LandingResource
from churn_platform.lib.sensing import new_deliveries

refresh_from_landing = dg.define_asset_job(
    "refresh_from_landing",
    selection=dg.AssetSelection.assets(landing_files).downstream(),
    description="Ingest new landing files and rebuild everything downstream of them.",
)


@dg.sensor(
    job=refresh_from_landing,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches refresh_from_landing when new or changed files arrive in the landing folder.",
)
def landing_sensor(
    context: dg.SensorEvaluationContext, landing: LandingResource
) -> dg.SensorResult | dg.SkipReason:
    root = landing.root
    found = new_deliveries(root, context.cursor)
    if not found.files:
        return dg.SkipReason(f"no new files in {root}")
    batches = sorted({str(f.batch_date) for f in found.files})
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=found.run_key,
                tags={"churn/trigger": "new landing files", "churn/batches": ",".join(batches)[:200]},
            )
        ],
        cursor=found.cursor,
    )
