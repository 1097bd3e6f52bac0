"""bench/checks.py: issue 14's targets judged from a hand-made results.json (no benchmark runs)."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH_CHECKS = Path(__file__).resolve().parents[2] / "bench" / "checks.py"


@pytest.fixture(scope="module")
def checks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_checks", BENCH_CHECKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def _sweep(node: float, build: float, memory: dict[str, float] | None = None) -> dict[str, Any]:
    return {
        "sweep_runs_seconds": node,
        "build_wall_seconds": build,
        **({"memory_mb": memory} if memory else {}),
    }


def _results() -> dict[str, Any]:
    """Every target met (with margin)."""
    return {
        "machine": {
            "cores": 2,
            "load_average_at_start": [0.1, 0.1, 0.1],
            "load_average_at_end": [0.2, 0.2, 0.2],
        },
        "scale": 1.0,
        "scenarios": {
            "W1": {
                "scale": 1.0,
                "sweep": {"sweep": _sweep(6.0, 16.0), "sweep_tracked": _sweep(6.3, 17.0)},
                "plain": {"stage_seconds": 14.0},
                "local": {"ideal_seconds": 4.3, "fit_score": 8.6},
                "overhead": {"overhead_ratio": 0.2, "wall_seconds": 10.3, "fit_score_seconds": 8.6},
            },
            "W2": {
                "scale": 1.0,
                "sweep": {"sweep": _sweep(22.0, 40.0)},
                "local": {"ideal_seconds": 20.0},
            },
            "W5": {
                "scale": 1.0,
                "groups": 20000,
                "sweep": {
                    "sweep": _sweep(60.0, 90.0, {"driver_python": 500.0, "driver_jvm": 1200.0})
                },
                "local": {"ideal_seconds": 40.0},
            },
            "W5s": {
                "scale": 1.0,
                "groups": 5000,
                "sweep": {
                    "sweep": _sweep(20.0, 40.0, {"driver_python": 450.0, "driver_jvm": 1100.0})
                },
            },
        },
    }


def _by_name(rows: list[Any], text: str) -> Any:
    (row,) = [r for r in rows if text in r.name]
    return row


def test_all_targets_met_exit_zero(checks: ModuleType) -> None:
    rows = checks.evaluate(_results())
    assert len(rows) == 9
    assert all(r.met is True for r in rows), [(r.name, r.figure) for r in rows if r.met is not True]
    assert checks.exit_code(rows) == 0
    assert _by_name(rows, "W1 `sweep_runs` node <= 1.5x").figure == pytest.approx(6.0 / 4.3)
    assert _by_name(rows, "applyInPandas").figure == pytest.approx(6.0 / 14.0)
    assert _by_name(rows, "minus the `sweep_runs` node").figure == pytest.approx(10.0)
    assert _by_name(rows, "tracked").figure == pytest.approx(6.3 / 6.0)
    assert _by_name(rows, "driver Python").figure == pytest.approx(500 / 450)
    assert "0 not met" in checks.summary(rows)


@pytest.mark.parametrize(
    ("path", "value", "missed"),
    [
        (
            ("W1", "sweep", "sweep", "sweep_runs_seconds"),
            6.6,
            "W1 `sweep_runs` node <= 1.5x",
        ),  # 1.53x
        (("W1", "plain", "stage_seconds"), 11.0, "applyInPandas"),  # 6/11 = 0.55
        (("W2", "sweep", "sweep", "sweep_runs_seconds"), 23.5, "W2"),  # 1.175x
        (("W5", "sweep", "sweep", "sweep_runs_seconds"), 80.5, "W5 `sweep_runs`"),  # 2.01x
        (("W5", "sweep", "sweep", "memory_mb", "driver_python"), 600.0, "driver Python"),  # 1.33x
        (("W5", "sweep", "sweep", "memory_mb", "driver_jvm"), 1400.0, "driver JVM"),  # 1.27x
        (("W1", "sweep", "sweep_tracked", "sweep_runs_seconds"), 6.7, "tracked"),  # 1.12x
        (("W1", "overhead", "overhead_ratio"), 0.26, "per-run overhead"),
        (
            ("W1", "sweep", "sweep", "build_wall_seconds"),
            18.5,
            "minus the `sweep_runs` node",
        ),  # 12.5 s
    ],
)
def test_one_target_missed_exit_one(
    checks: ModuleType, path: tuple[str, ...], value: float, missed: str
) -> None:
    results = copy.deepcopy(_results())
    tree = results["scenarios"]
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value
    rows = checks.evaluate(results)
    assert _by_name(rows, missed).met is False
    assert [r.name for r in rows if r.met is False] == [_by_name(rows, missed).name]
    assert checks.exit_code(rows) == 1
    assert "**NOT met**" in "\n".join(checks.table(rows))


def test_unmeasured_targets_fail_the_check(checks: ModuleType) -> None:
    results = _results()
    del results["scenarios"]["W2"]
    del results["scenarios"]["W1"]["sweep"]["sweep_tracked"]
    rows = checks.evaluate(results)
    unmeasured = [r for r in rows if r.met is None]
    assert {r.name.split(" ")[0] for r in unmeasured} == {"W2", "W1"}
    assert all(r.figure is None and r.status == "not measured" for r in unmeasured)
    assert checks.exit_code(rows) == 1
    assert "2 not measured" in checks.summary(rows)


def test_empty_results(checks: ModuleType) -> None:
    rows = checks.evaluate({"scenarios": {}})
    assert rows and all(r.met is None for r in rows)
    assert checks.exit_code(rows) == 1
    assert checks.exit_code([]) == 1


def test_limit_is_inclusive_and_scaled_runs_are_noted(checks: ModuleType) -> None:
    results = _results()
    results["scenarios"]["W1"]["sweep"]["sweep_tracked"]["sweep_runs_seconds"] = 6.0 * 1.1
    results["scenarios"]["W1"]["scale"] = 0.05
    rows = checks.evaluate(results)
    assert _by_name(rows, "tracked").met is True
    assert any("W1 x0.05" in note for note in checks.notes(results))


def test_tracked_build_without_runs_is_not_measured(checks: ModuleType) -> None:
    results = _results()
    tracked = results["scenarios"]["W1"]["sweep"]["sweep_tracked"]
    tracked["tracking_store"] = {"runs": 2001, "logged_models": 1000}
    row = _by_name(checks.evaluate(results), "tracked")
    assert row.met is True and "2001 runs, 1000 models" in row.shown_detail
    tracked["tracking_store"] = {"runs": 0, "logged_models": 0}
    row = _by_name(checks.evaluate(results), "tracked")
    assert row.met is None and "no runs" in row.shown_detail
