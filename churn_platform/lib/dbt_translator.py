"""How dbt nodes appear in Dagster: one group per dbt layer, raw sources on the ingestion assets' keys.

Kept free of Definitions so the transform domain, the tests and any later domain that reads the marts
agree on the same keys and groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

# dbt model folder (second element of the node's fqn) -> Dagster group
LAYER_GROUPS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}


class ChurnDbtTranslator(DagsterDbtTranslator):
    """Sources ``raw.<table>`` become ``["raw", "<table>"]``, the keys the ingestion assets publish, so the
    dbt models hang below ingestion in one lineage graph; models are grouped by their dbt layer."""

    def __init__(self) -> None:
        # every dbt data test becomes an asset check on the model it tests
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        layer = fqn[1] if len(fqn) > 2 else None
        return LAYER_GROUPS.get(layer or "", super().get_group_name(dbt_resource_props))
