"""A plain-text picture of the asset graph, for reviewing lineage changes in a diff."""

from __future__ import annotations

import dagster as dg


def asset_graph_snapshot(defs: dg.Definitions) -> str:
    """One line per asset: key, group, kinds, upstream keys and checks; sorted so diffs show real change."""
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        deps = ", ".join(sorted(k.to_user_string() for k in node.parent_keys)) or "-"
        checks = ", ".join(sorted(c.name for c in node.check_keys)) or "-"
        kinds = ", ".join(sorted(node.kinds)) or "-"
        lines.append(
            f"{key.to_user_string()} [group={node.group_name}; kinds={kinds}] <- {deps} | checks: {checks}"
        )
    return "\n".join(lines) + "\n"
