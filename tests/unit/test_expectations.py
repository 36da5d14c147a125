"""The committed Great Expectations suites enforce at least every rule of the data contract."""

from __future__ import annotations

from churn_platform.contract import SOURCES
from churn_platform.lib.quality import EXPECTATIONS_DIR, baseline_suite, load_suite


def _keys(suite: dict) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(e["type"], repr(sorted(e["kwargs"].items()))) for e in suite["expectations"]}


def test_every_source_has_a_suite_covering_its_contract() -> None:
    files = sorted(p.name for p in EXPECTATIONS_DIR.glob("raw_*.json"))
    assert files == sorted(f"raw_{name}.json" for name in SOURCES)
    for name, source in SOURCES.items():
        committed = load_suite(name)
        missing = _keys(baseline_suite(source)) - _keys(committed)
        assert not missing, (
            f"expectations/raw_{name}.json lacks contract rules {missing}: run churn-platform expectations --write"
        )
