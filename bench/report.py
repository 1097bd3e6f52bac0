"""The markdown report of one benchmark run (figures in seconds unless said otherwise)."""

from __future__ import annotations

from typing import Any

import checks

FLAT = 1.25  # "driver memory flat": peak at 4x the groups within 25% of the smaller run's


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _stage(entry: dict[str, Any] | None) -> str:
    stage = (entry or {}).get("training_stage")
    return f"{_f(stage['seconds'])} [{stage['tasks']}]" if stage else "-"


def _main_rows(scenarios: dict[str, Any]) -> list[str]:
    head = (
        "| scenario | data | fits | `sweep_runs` node | its training stage [tasks] | whole `dbt build` "
        "| plain script stage [tasks] | plain, coalescing off | joblib loop | sequential loop "
        "| fit+score sum | ideal (sum/cores) | sweep / plain | sweep / ideal |"
    )
    rows = [head, "|" + "---|" * 14]
    for name, s in scenarios.items():
        local, plain, fast = s.get("local", {}), s.get("plain"), s.get("plain_no_coalesce")
        for variant, v in s["sweep"].items():
            label = name if len(s["sweep"]) == 1 else f"{name} {variant}"
            size = f"{s['groups']} x {s['rows_per_group']}" + (" (skew)" if s["skew"] else "")
            size += f" (scale {s['scale']:g})" if "scale" in s else ""
            ideal = local.get("ideal_seconds")
            rows.append(
                f"| {label} | {size} | {s['fits']} | {_f(v['sweep_runs_seconds'])} | {_stage(v)} "
                f"| {_f(v['build_wall_seconds'])} | {_f(plain and plain['stage_seconds'])} {_stage_plain(plain)} "
                f"| {_f(fast and fast['stage_seconds'])} {_stage_plain(fast)} | {_f(local.get('joblib_wall_seconds'))} "
                f"| {_f(local.get('wall_seconds'))} | {_f(local.get('fit_score'))} | {_f(ideal)} "
                f"| {_f(_ratio(v['sweep_runs_seconds'], plain and plain['stage_seconds']), 2)} "
                f"| {_f(_ratio(v['sweep_runs_seconds'], ideal), 2)} |"
            )
    return rows


def _stage_plain(entry: dict[str, Any] | None) -> str:
    stage = (entry or {}).get("training_stage")
    return f"[{stage['tasks']}]" if stage else ""


def _targets(scenarios: dict[str, Any]) -> list[str]:
    rows = ["| target | figure | met |", "|---|---|---|"]
    w1 = scenarios.get("W1")
    if w1 and "plain" in w1:
        r = _ratio(w1["sweep"]["sweep"]["sweep_runs_seconds"], w1["plain"]["stage_seconds"])
        rows.append(
            f"| W1 `sweep_runs` <= 1.0x plain applyInPandas stage | {_f(r, 2)}x | {_yes(r is not None and r <= 1.0)} |"
        )
    w2 = scenarios.get("W2")
    if w2 and "local" in w2:
        r = _ratio(w2["sweep"]["sweep"]["sweep_runs_seconds"], w2["local"]["ideal_seconds"])
        rows.append(
            f"| W2 `sweep_runs` <= 1.3x the {_cores(w2)}-core ideal | {_f(r, 2)}x | {_yes(r is not None and r <= 1.3)} |"
        )
    for key in ("W3", "W3b"):
        w3 = scenarios.get(key)
        if w3:
            for variant in ("group_shard", "group_shard_no_coalesce"):
                if variant not in w3["sweep"]:
                    continue
                r = _ratio(
                    w3["sweep"]["group_only"]["sweep_runs_seconds"],
                    w3["sweep"][variant]["sweep_runs_seconds"],
                )
                rows.append(
                    f"| {key} {variant} units >= 1.7x faster than group-only | {_f(r, 2)}x | {_yes(r is not None and r >= 1.7)} |"
                )
    big, small = scenarios.get("W5"), scenarios.get("W5s")
    if big and small:
        mb, ms = big["sweep"]["sweep"]["memory_mb"], small["sweep"]["sweep"]["memory_mb"]
        for kind in ("driver_python", "driver_jvm"):
            r = _ratio(mb.get(kind), ms.get(kind))
            rows.append(
                f"| W5 {kind} peak RSS flat in groups ({big['groups']} vs {small['groups']}) "
                f"| {_f(mb.get(kind), 0)} vs {_f(ms.get(kind), 0)} MB ({_f(r, 2)}x) | {_yes(r is not None and r <= FLAT)} |"
            )
    return rows


def _overhead(o: dict[str, Any]) -> list[str]:
    return [
        "| groups | runs | train_group wall | fit + score | overhead | per run | overhead / (fit+score) "
        "| train_units only (no manifest) |",
        "|---|---|---|---|---|---|---|---|",
        f"| {o['groups']} | {o['runs']} | {_f(o['wall_seconds'], 2)} | {_f(o['fit_score_seconds'], 2)} "
        f"| {_f(o['overhead_seconds'], 2)} | {_f(o['overhead_ms_per_run'], 2)} ms "
        f"| {_f(100 * o['overhead_ratio'] if o['overhead_ratio'] is not None else None)}% "
        f"| {_f(o['train_units_seconds'], 2)} s |",
    ]


def _cores(s: dict[str, Any]) -> str:
    local = s["local"]
    return f"{round(local['fit_score'] / local['ideal_seconds'])}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def _memory(scenarios: dict[str, Any]) -> list[str]:
    rows = ["| scenario | groups | dbt process (driver Python) | driver JVM | Python workers (sum) | largest worker | worker processes |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, s in scenarios.items():
        for v in s["sweep"].values():
            m = v.get("memory_mb")
            if m:
                rows.append(
                    f"| {name} | {s['groups']} | {_f(m.get('driver_python'), 0)} | {_f(m.get('driver_jvm'), 0)} "
                    f"| {_f(m.get('python_workers'), 0)} | {_f(m.get('largest_python_worker'), 0)} "
                    f"| {_f(m.get('python_worker_processes'), 0)} |"
                )
    return rows if len(rows) > 2 else []


def _demo(demo: dict[str, Any]) -> list[str]:
    rows = ["| part | seconds |", "|---|---|"]
    rows.append(
        f"| Python start and imports, before dbt's first log line | {_f(demo.get('python_imports_before_first_log_line'), 2)} |"
    )
    rows.append(
        f"| dbt start-up and parse (first log line to 'Found N models') | {_f(demo['dbt_start_and_parse'], 2)} |"
    )
    spark = next(v for k, v in demo.items() if k.startswith("spark_start"))
    rows.append(
        f"| Spark start (first query: JVM, SparkSession, Hive/Derby metastore, `show databases`) | {_f(spark, 2)} |"
    )
    for kind, entry in demo["metadata_queries"].items():
        rows.append(f"| metadata: {kind} x{entry['count']} | {_f(entry['seconds'], 2)} |")
    for name, seconds in demo["models (execution minus metadata queries)"].items():
        rows.append(f"| model {name} | {_f(seconds, 2)} |")
    tests = demo["tests"]
    rows.append(
        f"| {len(tests)} data tests (summed; run 2 at a time) | {_f(sum(tests.values()), 2)} |"
    )
    rows.append(
        f"| dbt's elapsed_time (connection to end) | {_f(next(v for k, v in demo.items() if k.startswith('run_elapsed')), 2)} |"
    )
    rows.append(f"| whole process wall | {_f(demo.get('process_wall'), 2)} |")
    return rows


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    parts = [
        f"# dbt-sweep benchmark (default scale {results['scale']:g}; per-scenario scale in the data column)",
        "",
        f"{machine['cores']} cores, Python {machine['python']}, started {machine['started']}, load average "
        f"at start {machine['load_average_at_start']}, at end {machine.get('load_average_at_end')}.",
        "",
    ]
    scenarios = results["scenarios"]
    if scenarios:
        parts += [
            "## Times (seconds)",
            "",
            *_main_rows(scenarios),
            "",
            "## Issue 14 targets (judged by `--check`; bench/checks.py)",
            "",
            *checks.table(checks.evaluate(results)),
            "",
            *[f"- {note}" for note in checks.notes(results)],
            "",
            "## Earlier targets (reported, not judged)",
            "",
            *_targets(scenarios),
            "",
        ]
        overhead = scenarios.get("W1", {}).get("overhead")
        if overhead:
            parts += [
                "## Per-run overhead in one process (W1, bench/overhead.py)",
                "",
                *_overhead(overhead),
                "",
            ]
        memory = _memory(scenarios)
        if memory:
            parts += ["## Peak RSS of the `dbt build` process tree (MB)", "", *memory, ""]
    if "demo" in results:
        parts += ["## Fixed cost of the demo `dbt build`", "", *_demo(results["demo"]), ""]
    return "\n".join(parts)
