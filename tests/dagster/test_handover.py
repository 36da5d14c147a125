"""The demo hands its sensor cursors to the daemon: set, and still running as the code declares."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus

from churn_platform.lib.handover import set_sensor_cursors
from churn_platform.settings import PROJECT_ROOT


def test_cursors_are_set_and_sensors_stay_as_declared(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        wanted = {"landing_sensor": "{}", "drift_retraining_sensor": "42", "campaign_sensor": "7"}
        assert sorted(set_sensor_cursors(instance, PROJECT_ROOT / "workspace.yaml", wanted)) == sorted(wanted)
        states = {s.name: s for s in instance.all_instigator_state()}
        assert {name: states[name].instigator_data.cursor for name in wanted} == wanted  # type: ignore[union-attr]
        # not STOPPED (what `dagster sensor cursor --set` records): the daemon keeps running them
        assert {s.status for s in states.values()} == {InstigatorStatus.DECLARED_IN_CODE}
        # a second hand-over updates, it does not duplicate
        set_sensor_cursors(instance, PROJECT_ROOT / "workspace.yaml", {"drift_retraining_sensor": "99"})
        again = [s for s in instance.all_instigator_state() if s.name == "drift_retraining_sensor"]
        assert len(again) == 1
        assert again[0].instigator_data.cursor == "99"  # type: ignore[union-attr]
