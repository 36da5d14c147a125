"""The company's application database as Dagster assets: one per table, extracted with dlt (dagster-dlt)
into the landing folder, from where the landing sensor and the raw assets take it behind the same gates.

Only present when the company profile configures ``connectors.database``; the URL comes from
``CHURN_SOURCE_DATABASE_URL`` (a secret) through the ``source_database`` resource.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from dagster_dlt import DagsterDltResource, DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

from churn_platform.contract import contract_for
from churn_platform.defs.resources import LandingResource, SourceDatabaseResource
from churn_platform.lib.connectors import (
    ConnectorError,
    Places,
    build_pipeline,
    build_source,
    hand_over,
    make_engine,
    safe_url,
)
from churn_platform.profile import CompanyProfile, active_profile

GROUP = "ingest"
KEY_PREFIX = "application_db"


def connector_asset_keys(profile: CompanyProfile) -> list[dg.AssetKey]:
    """The asset keys of the profile's database tables (none without a connector)."""
    database = profile.connectors.database
    return [dg.AssetKey([KEY_PREFIX, t.table]) for t in (database.tables if database else ())]


@dataclass
class _Translator(DagsterDltTranslator):
    """dlt resources (named after the contract source) to the table assets."""

    specs: dict[str, dg.AssetSpec] = field(default_factory=dict)

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        return self.specs[data.resource.name]


def build_connector_assets(profile: CompanyProfile) -> list[dg.AssetsDefinition]:
    """One multi-asset extracting every configured table of the application database (subsettable)."""
    database = profile.connectors.database
    if database is None:
        return []
    contract = contract_for(profile)
    specs = {
        t.source: dg.AssetSpec(
            key=dg.AssetKey([KEY_PREFIX, t.table]),
            group_name=GROUP,
            kinds={"dlt", database.kind},
            description=f"Table {database.schema_name}.{t.table} of the company's application database, read "
            f"incrementally (rows whose cursor grew since the last run) and landed as {t.source} files in the "
            "landing folder, mapped onto the contract; ingested by raw/" + t.source + " behind its gate.",
            metadata={"contract_source": t.source, "table": f"{database.schema_name}.{t.table}"},
        )
        for t in database.tables
    }
    translator = _Translator(specs=specs)

    @dg.multi_asset(name="application_database", specs=list(specs.values()), can_subset=True)
    def application_database(
        context: dg.AssetExecutionContext,
        dlt: DagsterDltResource,
        source_database: SourceDatabaseResource,
        landing: LandingResource,
    ) -> Iterator[dg.MaterializeResult]:
        places = Places(Path(source_database.state_dir))
        before = hand_over(
            places, landing.root, database, contract, log=context.log.info
        )  # a crash's leftovers
        try:
            engine = make_engine(source_database.url, database)
            try:
                source = build_source(engine, database, contract)
                results = list(
                    dlt.run(
                        context=context,
                        dlt_source=source,
                        dlt_pipeline=build_pipeline(places),
                        dagster_dlt_translator=translator,
                        loader_file_format="parquet",
                    )
                )
            finally:
                engine.dispose()
        except ConnectorError as exc:
            raise dg.Failure(description=str(exc)) from None
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise dg.Failure(
                description=f"cannot reach the application database {safe_url(source_database.url)}: {reason}"
            ) from None
        landed = before.merge(hand_over(places, landing.root, database, contract, log=context.log.info))
        for result in results:
            if not isinstance(result, dg.MaterializeResult) or result.asset_key is None:
                continue
            source_name = next(s for s, spec in specs.items() if spec.key == result.asset_key)
            table = landed.tables[source_name]
            yield dg.MaterializeResult(
                asset_key=result.asset_key,
                metadata={
                    **(result.metadata or {}),
                    "rows_landed": dg.MetadataValue.int(table.rows),
                    "files_landed": dg.MetadataValue.int(len(table.files)),
                    "batch_date": dg.MetadataValue.text(landed.batch_date.isoformat()),
                    "landing_files": dg.MetadataValue.md("\n".join(f"- {f}" for f in table.files) or "none"),
                },
            )

    return [application_database]


@dg.definitions
def connectors() -> dg.Definitions:
    profile = active_profile()
    assets = build_connector_assets(profile)
    if not assets or profile.connectors.database is None:
        return dg.Definitions()
    job = dg.define_asset_job(
        "extract_application_database",
        selection=dg.AssetSelection.assets(*assets),
        description="Extract new and changed rows of the application database into the landing folder.",
    )
    schedule = dg.ScheduleDefinition(
        name="application_database_schedule",
        job=job,
        cron_schedule=profile.connectors.database.cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Extracts the application database; the landing sensor then ingests what landed.",
    )
    return dg.Definitions(assets=assets, jobs=[job], schedules=[schedule])
