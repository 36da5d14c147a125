"""Handing sensor cursors to the Dagster daemon after work done outside it (the demo runs sensors itself).

Without this, the daemon's first tick sees every landing file, tier change and report as new and redoes the
demo's work (ingestion, a retraining, a campaign run) while the user looks at the UIs. Dagster's CLI
(``dagster sensor cursor --set``) can set a cursor but records the sensor as stopped, which overrides the
code's ``default_status=RUNNING``; this does what that command does with the state the code declares. It uses
Dagster's instigator-state API (pinned Dagster 1.13).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    SensorInstigatorData,
)
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget


def set_sensor_cursors(instance: dg.DagsterInstance, workspace: Path, cursors: dict[str, str]) -> list[str]:
    """Set each named sensor's cursor, keeping it as its code declares (running by default); returns the names set."""
    done = []
    with WorkspaceProcessContext(instance, WorkspaceFileTarget([str(workspace)])) as process:
        context = process.create_request_context()
        for location in context.get_code_location_entries().values():
            if location.code_location is None:
                continue
            for repo in location.code_location.get_repositories().values():
                for name, cursor in cursors.items():
                    if not repo.has_sensor(name):
                        continue
                    sensor = repo.get_sensor(name)
                    data = SensorInstigatorData(
                        min_interval=sensor.min_interval_seconds,
                        cursor=cursor,
                        sensor_type=sensor.sensor_type,
                    )
                    state = instance.get_instigator_state(sensor.get_remote_origin_id(), sensor.selector_id)
                    if state is None:
                        instance.add_instigator_state(
                            InstigatorState(
                                sensor.get_remote_origin(),
                                InstigatorType.SENSOR,
                                InstigatorStatus.DECLARED_IN_CODE,
                                data,
                            )
                        )
                    else:
                        instance.update_instigator_state(state.with_data(data))
                    done.append(name)
    return done
