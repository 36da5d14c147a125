"""Scores written back to the CRMs after scoring, and exported for any other reverse-ETL tool."""

from pathlib import Path

import dagster as dg

from churn_platform.defs.crm.resources import CrmResource
from churn_platform.defs.resources import ExportsResource, WarehouseResource
from churn_platform.lib.crm import export_rows, write_back, writeback_rows
from churn_platform.lib.erasure import Suppression
from churn_platform.settings import get_settings

UPSTREAM = [dg.AssetKey("churn_scores"), dg.AssetKey("customer_value"), dg.AssetKey("retention_targets")]


@dg.asset(
    deps=UPSTREAM,
    group_name="crm",
    kinds={"parquet", "csv"},
    description="Risk score, tier, top reason, value band and next best action per customer of the latest "
    "scoring, as data/exports/crm/crm_scores.parquet and .csv for any reverse-ETL tool (no personal data).",
)
def crm_export(warehouse: WarehouseResource, exports: ExportsResource) -> dg.MaterializeResult:
    rows = writeback_rows(warehouse.path_obj)
    folder = Path(exports.ledger_export_path).parent / "crm"
    paths = export_rows(rows, folder)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "parquet": dg.MetadataValue.path(str(paths["parquet"])),
            "csv": dg.MetadataValue.path(str(paths["csv"])),
            "tiers": dg.MetadataValue.json(
                {str(k): int(v) for k, v in rows["risk_tier"].value_counts().items()}
            ),
        }
    )


def build_writeback(crm_name: str, title: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{crm_name}_writeback",
        deps=[crm_export],
        group_name="crm",
        kinds={crm_name},
        description=f"Upserts each customer's score, tier, top reason, value band and next best action into "
        f"{title} by external id, once per snapshot (ledger crm.writeback_ledger), retrying rate limits, "
        "server errors and transient record failures. Not configured: does nothing and says so.",
    )
    def _writeback(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, crm: CrmResource
    ) -> dg.MaterializeResult:
        if not crm.configured(crm_name):
            context.log.info(
                f"{title} is not configured: nothing written (see the CRM settings in README.md)"
            )
            return dg.MaterializeResult(metadata={"configured": False, "written": dg.MetadataValue.int(0)})
        suppression = Suppression(get_settings().privacy)
        report = write_back(
            warehouse.path_obj,
            crm.writer(crm_name),
            writeback_rows(warehouse.path_obj),
            backoff_seconds=crm.backoff_seconds,
            skip=suppression.contains,
        )
        context.log.info(
            f"{title}: {report.written} written, {report.already_written} already written, {report.refused} refused, "
            f"{report.still_pending} pending; {report.request_retries} requests retried"
        )
        if report.still_pending:
            context.log.warning(f"{report.still_pending} records still pending: the next run retries them")
        return dg.MaterializeResult(
            metadata={
                "configured": True,
                "queued": dg.MetadataValue.int(report.queued),
                "written": dg.MetadataValue.int(report.written),
                "already_written": dg.MetadataValue.int(report.already_written),
                "refused": dg.MetadataValue.int(report.refused),
                "still_pending": dg.MetadataValue.int(report.still_pending),
                "requests": dg.MetadataValue.int(report.requests),
                "request_retries": dg.MetadataValue.int(report.request_retries),
                "record_retries": dg.MetadataValue.int(report.record_retries),
            }
        )

    return _writeback


hubspot_writeback = build_writeback("hubspot", "HubSpot")
salesforce_writeback = build_writeback("salesforce", "Salesforce")
