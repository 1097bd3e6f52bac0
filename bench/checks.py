"""Issue 14's targets, judged from one run's ``results.json`` (``python bench/run.py ... --check``).

:func:`evaluate` is a pure function from the results dict to one :class:`Check` per target; a target
whose figures the run did not measure (its scenario not run, or no tracked build) has no figure and
counts as not verified. :func:`exit_code` is 0 only when every target has a figure and meets it.
Every target is a ratio or a duration within the one run, so the same load applies to both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FLAT = 1.25  # "driver memory flat": W5 (20,000 groups) peak RSS within 1.25x of W5s (5,000 groups)


@dataclass(frozen=True)
class Check:
    """One target: ``figure <= limit``; ``figure`` is None when the run did not measure it."""

    name: str
    figure: float | None
    limit: float
    unit: str  # "x" (a ratio), "s" (seconds) or "%" (figure and limit are fractions)
    detail: str = ""
    why: str = ""  # why a target has no figure, when the run says more than "not run"

    @property
    def met(self) -> bool | None:
        return None if self.figure is None else self.figure <= self.limit

    def show(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.unit == "%":
            return f"{100 * value:.1f}%"
        if self.unit == "s":
            return f"{value:.1f} s"
        return f"{value:.2f}x"

    @property
    def shown_detail(self) -> str:
        """What the figure was computed from (``-`` when not measured)."""
        if self.figure is None:
            return self.why or "-"
        return self.detail or "-"

    @property
    def status(self) -> str:
        return {True: "met", False: "NOT met", None: "not measured"}[self.met]


def _get(tree: Mapping[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _s(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _node_vs_ideal(scenarios: Mapping[str, Any], key: str, limit: float) -> Check:
    node = _get(scenarios, key, "sweep", "sweep", "sweep_runs_seconds")
    ideal = _get(scenarios, key, "local", "ideal_seconds")
    return Check(
        f"{key} `sweep_runs` node <= {limit:g}x the ideal (fit+score sum / cores)",
        _ratio(node, ideal), limit, "x", f"{_s(node)} s / {_s(ideal, 2)} s",
    )  # fmt: skip


def evaluate(results: Mapping[str, Any]) -> list[Check]:
    """One row per issue-14 target, from a run's results (``bench/results/<run>/results.json``)."""
    sc = results.get("scenarios", {}) or {}
    out = [_node_vs_ideal(sc, "W1", 1.5)]

    node = _get(sc, "W1", "sweep", "sweep", "sweep_runs_seconds")
    plain = _get(sc, "W1", "plain", "stage_seconds")
    out.append(Check(
        "W1 `sweep_runs` node <= 0.5x the plain per-group applyInPandas stage (AQE default)",
        _ratio(node, plain), 0.5, "x", f"{_s(node)} s / {_s(plain)} s",
    ))  # fmt: skip

    out.append(_node_vs_ideal(sc, "W2", 1.15))
    out.append(_node_vs_ideal(sc, "W5", 2.0))

    big = _get(sc, "W5", "sweep", "sweep", "memory_mb") or {}
    small = _get(sc, "W5s", "sweep", "sweep", "memory_mb") or {}
    groups = f"{_get(sc, 'W5', 'groups') or '?'} vs {_get(sc, 'W5s', 'groups') or '?'} groups"
    for kind, label in (
        ("driver_python", "driver Python (dbt process)"),
        ("driver_jvm", "driver JVM"),
    ):
        b, s = big.get(kind), small.get(kind)
        out.append(Check(
            f"W5 {label} peak RSS flat: W5 <= {FLAT:g}x W5s",
            _ratio(b, s), FLAT, "x", f"{_s(b, 0)} MB / {_s(s, 0)} MB ({groups})",
        ))  # fmt: skip

    tracked = _get(sc, "W1", "sweep", "sweep_tracked", "sweep_runs_seconds")
    store = _get(sc, "W1", "sweep", "sweep_tracked", "tracking_store")
    detail, why = f"{_s(tracked)} s / {_s(node)} s", ""
    if store is not None:  # a tracked build whose store holds no runs did not measure tracking
        detail += f"; store: {store.get('runs', 0)} runs, {store.get('logged_models', 0)} models"
        if not store.get("runs"):
            tracked, why = None, "the tracked build's MLflow store holds no runs"
    out.append(Check(
        "W1 tracked node (level runs, winners' models) <= 1.1x the untracked node",
        _ratio(tracked, node), 1.1, "x", detail, why,
    ))  # fmt: skip

    over = _get(sc, "W1", "overhead") or {}
    out.append(Check(
        "per-run overhead in one process on W1 (train_group wall - fit - score) / (fit + score) <= 25%",
        over.get("overhead_ratio"), 0.25, "%",
        f"({_s(over.get('wall_seconds'), 2)} - {_s(over.get('fit_score_seconds'), 2)} s) / "
        f"{_s(over.get('fit_score_seconds'), 2)} s" if over else "",
    ))  # fmt: skip

    build = _get(sc, "W1", "sweep", "sweep", "build_wall_seconds")
    fixed = build - node if build is not None and node is not None else None
    out.append(Check(
        "W1 whole `dbt build` minus the `sweep_runs` node <= 12 s",
        fixed, 12.0, "s", f"{_s(build)} s - {_s(node)} s",
    ))  # fmt: skip
    return out


def exit_code(checks: list[Check]) -> int:
    """0 when every target is measured and met, else 1."""
    return 0 if checks and all(c.met is True for c in checks) else 1


def notes(results: Mapping[str, Any]) -> list[str]:
    """Caveats for reading the table: scenarios not at the issue's size, the machine's load."""
    out = []
    scaled = {
        name: s.get("scale")
        for name, s in (results.get("scenarios") or {}).items()
        if s.get("scale") not in (None, 1, 1.0)
    }
    if scaled:
        listed = ", ".join(f"{k} x{v:g}" for k, v in scaled.items())
        out.append(f"Scaled scenarios ({listed}): the issue's targets are stated at scale 1.")
    machine = results.get("machine") or {}
    if machine:
        out.append(
            f"{machine.get('cores')} cores; load average at start {machine.get('load_average_at_start')}, "
            f"at end {machine.get('load_average_at_end')}."
        )
    return out


def table(checks: list[Check]) -> list[str]:
    """The checks as markdown rows."""
    rows = ["| target | figure | limit | from | met |", "|---|---|---|---|---|"]
    for c in checks:
        rows.append(
            f"| {c.name} | {c.show(c.figure)} | {c.show(c.limit)} | {c.shown_detail} | "
            f"{c.status if c.met is not False else '**NOT met**'} |"
        )
    return rows


def summary(checks: list[Check]) -> str:
    met = sum(c.met is True for c in checks)
    missed = sum(c.met is False for c in checks)
    unmeasured = sum(c.met is None for c in checks)
    return f"{met} met, {missed} not met, {unmeasured} not measured (of {len(checks)} targets)"
