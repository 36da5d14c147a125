"""Raw tables: one asset per contract source, loaded from the landing folder behind a blocking quality gate."""

import dagster as dg

from churn_platform.contract import active_contract
from churn_platform.defs.ingest.landing import landing_files
from churn_platform.defs.resources import LandingResource, WarehouseResource
from churn_platform.lib.gates import judge
from churn_platform.lib.ingest import INGEST_ORDER, FileReport, SourceReport, ingest_source
from churn_platform.lib.quality import SuiteRunner


class IngestConfig(dg.Config):
    """How much bad data a delivery may carry before downstream models stop trusting it: the share of the
    latest delivery's rows still held in quarantine (see churn_platform/lib/gates.py)."""

    max_quarantine_share: float = 0.05


def _report_metadata(report: SourceReport) -> dict[str, dg.MetadataValue]:
    loaded = [f for f in report.files if f.status == "loaded"]
    rules = report.rule_counts()
    rule_md = "| rule | rows |\n|---|---|\n" + "\n".join(f"| {r} | {n} |" for r, n in sorted(rules.items()))
    files_md = (
        "| file | status | rows | loaded | quarantined | note |\n|---|---|---|---|---|---|\n"
        + "\n".join(
            f"| {f.path} | {f.status} | {f.rows} | {f.loaded} | {f.quarantined} | {f.reason[:120]} |"
            for f in report.files
            if f.status != "skipped"
        )
    )
    mapped = report.mapped_counts()
    mapped_md = "| column | values stored as `other` |\n|---|---|\n" + "\n".join(
        f"| {c} | {n} |" for c, n in sorted(mapped.items())
    )
    profile = active_contract().profile
    return {
        "company_profile": dg.MetadataValue.text(f"{profile.name} ({profile.version})"),
        "values_mapped_to_other": dg.MetadataValue.md(mapped_md if mapped else "none"),
        "files_loaded": dg.MetadataValue.int(len(loaded)),
        "files_skipped": dg.MetadataValue.int(sum(f.status == "skipped" for f in report.files)),
        "files_rejected": dg.MetadataValue.int(len(report.rejected)),
        "rows_loaded": dg.MetadataValue.int(report.loaded_rows),
        "rows_quarantined": dg.MetadataValue.int(report.quarantined_rows),
        "rows_released_from_quarantine": dg.MetadataValue.int(report.released),
        "files": dg.MetadataValue.md(files_md),
        "broken_rules": dg.MetadataValue.md(rule_md if rules else "none"),
    }


def build_raw_asset(source: str) -> dg.AssetsDefinition:
    """An ingestion asset for one source; everything but accounts waits for accounts (ids are checked)."""
    key = dg.AssetKey(["raw", source])
    deps: list[dg.AssetKey] = [landing_files.key]
    if source != "accounts":
        deps.append(dg.AssetKey(["raw", "accounts"]))

    @dg.asset(
        key=key,
        deps=deps,
        group_name="ingest",
        kinds={"duckdb"},
        description=f"{active_contract().sources[source].description} Loaded exactly once per file, bad rows "
        "quarantined. Optional sources the company profile does not deliver stay empty.",
        check_specs=[
            dg.AssetCheckSpec(
                "quality_gate",
                asset=key,
                blocking=True,
                description=f"Great Expectations suite raw_{source}.json of the company (expectations/<profile>/), known customers, and "
                "the share of quarantined rows in this run within the limit.",
            )
        ],
    )
    def _raw(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        warehouse: WarehouseResource,
        landing: LandingResource,
    ) -> dg.MaterializeResult:
        def log(f: FileReport) -> None:
            note = f" ({f.reason})" if f.reason else ""
            context.log.info(
                f"{f.path}: {f.status}, {f.loaded} rows loaded, {f.quarantined} quarantined{note}"
            )

        report = ingest_source(
            warehouse.path_obj, landing.root, source, SuiteRunner(), progress=log, notify=context.log.info
        )
        metadata = _report_metadata(report)
        if report.rejected:
            reasons = "\n".join(f"- {f.reason}" for f in report.rejected)
            raise dg.Failure(
                description=f"{len(report.rejected)} {source} file(s) rejected; nothing of them was loaded, "
                f"everything else was:\n{reasons}\nFix and re-deliver the file(s), then re-run.",
                metadata=metadata,
            )
        contract_source = active_contract().sources[source]
        with warehouse.connect() as con:
            verdict = judge(con, contract_source, config.max_quarantine_share)
            total = con.execute(f"select count(*) from raw.{source}").fetchall()[0][0]
        metadata["dagster/row_count"] = dg.MetadataValue.int(int(total))
        (context.log.info if verdict.passed else context.log.error)(f"quality gate: {verdict.summary()}")
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name="quality_gate",
                    passed=verdict.passed,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={
                        "judged_delivery": dg.MetadataValue.text(str(verdict.batch_date or "none")),
                        "failing_deliveries": dg.MetadataValue.text(
                            ", ".join(map(str, verdict.failing_batches)) or "none"
                        ),
                        "quarantined_share": dg.MetadataValue.float(round(verdict.share, 6)),
                        "max_quarantine_share": dg.MetadataValue.float(config.max_quarantine_share),
                        "rows_in_judged_delivery": dg.MetadataValue.int(verdict.rows),
                        "rows_held": dg.MetadataValue.int(verdict.open_quarantine),
                        "accepted": dg.MetadataValue.text(verdict.accepted or "no"),
                        "top_rules": dg.MetadataValue.md(verdict.rules_markdown()),
                        "rows_checked_this_run": dg.MetadataValue.int(report.rows_seen),
                    },
                    description=verdict.summary()[:1000],
                )
            ],
        )

    return _raw


raw_assets = [build_raw_asset(source) for source in INGEST_ORDER]
