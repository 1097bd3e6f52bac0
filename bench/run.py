"""dbt-sweep benchmarks: the sweep through ``dbt build`` against hand-written baselines, same data.

    /tmp/venv/bin/python bench/run.py --scenarios W1,W2,W3,W4,W5 --scale 1.0
    /tmp/venv/bin/python bench/run.py --scenarios W1 --scale 0.05          # a quick check
    /tmp/venv/bin/python bench/run.py --scenarios demo                     # fixed cost of the demo build
    /tmp/venv/bin/python bench/run.py --scenarios W1,W2,W5 --check         # issue 14's targets, exit 1 if missed

Writes ``bench/results/<run>/results.json`` and ``report.md`` (see bench/README.md for what each
figure includes). Never part of the pytest suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baselines  # noqa: E402
import checks  # noqa: E402
import dbt_build  # noqa: E402
import eventlog  # noqa: E402
import logsplit  # noqa: E402
import overhead  # noqa: E402
import report  # noqa: E402
from workloads import FEATURES, GROUP, NO_COALESCE, REPO, TARGET, Workload, workloads, write_data  # noqa: E402

BENCH = Path(__file__).resolve().parent
CORES = os.cpu_count() or 1
ALIASES = {"W5": ["W5s", "W5"]}


def _log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def _store_counts(store: Path) -> dict[str, int]:
    """Runs (parent + children) and logged models in a tracked build's SQLite store: evidence the
    build tracked what the variant asks for."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(store)) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
        runs = db.execute("select count(*) from runs").fetchone()[0] if "runs" in tables else 0
        models = (
            db.execute("select count(*) from logged_models").fetchone()[0]
            if "logged_models" in tables
            else 0
        )
    return {"runs": int(runs), "logged_models": int(models)}


def _tracked_spec(workload: Workload, variant: Any, vroot: Path) -> tuple[dict[str, Any], float]:
    """The variant's spec logging into an embedded MLflow store in the build's folder
    (``vroot/mlflow.db``, artifacts in ``vroot/mlruns``), created empty beforehand: every build after
    a project's first opens an existing store, so MLflow's schema migrations (returned, in seconds)
    are not in the node's time."""
    import tracking

    vroot.mkdir(parents=True, exist_ok=True)
    store = vroot / "mlflow.db"
    store.unlink(missing_ok=True)
    seconds = tracking.create_store(store)
    spec = workload.spec(variant)
    spec["tracking"] = {**spec["tracking"], "uri": f"sqlite:///{store}"}
    return spec, seconds


def run_sweep(
    workload: Workload, root: Path, data: Path, *, aqe_variants: bool = True, tracked: bool = False
) -> dict[str, Any]:
    """Every variant of the scenario through ``dbt build``; timings from run_results, log and event log.

    ``aqe_variants=False`` skips the variants that switch adaptive coalescing off: dbt-sweep sets
    its training stage's partitioning itself, so they only confirm that it does. Variants that track
    to MLflow run only with ``tracked=True`` (each costs a build).
    """
    out = {}
    for variant in workload.variants:
        if not aqe_variants and variant.spark_conf == NO_COALESCE:
            continue
        if variant.tracking and not tracked:
            continue
        _log(f"{workload.key}: dbt build ({variant.name}, shards={variant.shards})")
        vroot = root / variant.name
        store_seconds = None
        if variant.tracking:
            spec, store_seconds = _tracked_spec(workload, variant, vroot)
        else:
            spec = workload.spec(variant)
        project = dbt_build.generate_project(
            vroot, data=data, spec=spec, spark_conf=variant.spark_conf
        )
        build = dbt_build.run_build(project, vroot, memory=workload.measure_memory)
        if build["returncode"] != 0:
            raise RuntimeError(
                f"dbt build failed for {workload.key}/{variant.name}: see {vroot / 'dbt_stdout.txt'}"
            )
        nodes = dbt_build.run_results(project)["nodes"]
        jobs = eventlog.summary(vroot / "spark" / "events")
        runs_jobs = jobs.get("dbt-model.sweep_bench.sweep_runs", [])
        split = logsplit.split(project, wall_seconds=build["wall_seconds"])
        split.pop("queries")
        out[variant.name] = {
            "build_wall_seconds": build["wall_seconds"],
            "sweep_runs_seconds": nodes["sweep_runs"]["execution_time"],
            "sweep_manifest_seconds": nodes["sweep_manifest"]["execution_time"],
            "training_stage": eventlog.training_stage(runs_jobs),
            "sweep_runs_jobs": runs_jobs,
            "split": split,
            **({"memory_mb": build["memory_mb"]} if "memory_mb" in build else {}),
            **(
                {
                    "tracking_store_create_seconds": store_seconds,
                    "tracking_store": _store_counts(vroot / "mlflow.db"),
                }
                if store_seconds is not None
                else {}
            ),
        }
        _log(f"{workload.key}/{variant.name}: sweep_runs {out[variant.name]['sweep_runs_seconds']:.1f} s, "
             f"build {build['wall_seconds']:.1f} s")  # fmt: skip
    return out


def run_plain(workload: Workload, root: Path, data: Path, *, coalesce: bool) -> dict[str, Any]:
    """The plain PySpark script in its own process, on the local target's Spark settings."""
    name = "plain" if coalesce else "plain_no_coalesce"
    proot = root / name
    proot.mkdir(parents=True, exist_ok=True)
    (proot / "spark" / "events").mkdir(parents=True, exist_ok=True)
    conf = dbt_build.spark_conf(proot / "spark")
    conf["spark.eventLog.enabled"] = "true"
    conf["spark.eventLog.dir"] = str(proot / "spark" / "events")
    conf["spark.eventLog.compress"] = "false"
    if not coalesce:
        conf["spark.sql.adaptive.coalescePartitions.enabled"] = "false"
    (proot / "conf.json").write_text(json.dumps(conf, indent=1))
    (proot / "configs.json").write_text(json.dumps(workload.configs()))
    command = [sys.executable, str(BENCH / "plain_spark.py"), "--data", str(data), "--out", str(proot / "out"),
               "--configs", str(proot / "configs.json"), "--spark-conf", str(proot / "conf.json")]  # fmt: skip
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    _log(
        f"{workload.key}: plain applyInPandas script ({'AQE default' if coalesce else 'coalescing off'})"
    )
    start = time.perf_counter()
    done = subprocess.run(command, cwd=proot, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    (proot / "stderr.txt").write_text(done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"plain script failed for {workload.key}: see {proot / 'stderr.txt'}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_seconds"] = wall
    result["training_stage"] = eventlog.training_stage(
        eventlog.summary(proot / "spark" / "events").get("train", [])
    )
    _log(
        f"{workload.key}/{name}: stage {result['stage_seconds']:.1f} s, tasks {result['stage_tasks']}"
    )
    return result


def run_local(workload: Workload, data: Any, *, joblib: bool) -> dict[str, Any]:
    """The sequential scikit-learn loop (and the ideal), then the joblib loop, in this process."""
    kwargs = {"features": FEATURES, "target": TARGET, "group": GROUP}
    _log(f"{workload.key}: sequential scikit-learn loop")
    loop = baselines.sequential(data, workload.configs(), **kwargs)
    loop["ideal_seconds"] = loop["fit_score"] / CORES
    loop["ideal_unit_bound_seconds"] = max(loop["ideal_seconds"], loop["max_unit"])
    loop["skops_seconds_per_model"] = baselines.skops_cost(data, workload.configs(), **kwargs)
    if not joblib:
        return loop
    _log(f"{workload.key}: joblib loop (n_jobs={CORES})")
    loop["joblib_wall_seconds"] = baselines.joblib_loop(
        data, workload.configs(), cores=CORES, **kwargs
    )
    return loop


def run_workload(
    workload: Workload,
    root: Path,
    *,
    aqe_variants: bool = True,
    tracked: bool = False,
    overhead_figure: bool = False,
) -> dict[str, Any]:
    data_path = root / "data.parquet"
    data = write_data(workload, data_path)
    out: dict[str, Any] = {
        "title": workload.title, "groups": workload.groups, "rows_per_group": workload.rows,
        "rows": len(data), "skew": workload.skew, "fits": len(workload.configs()) * workload.groups,
        "configs_per_group": len(workload.configs()),
    }  # fmt: skip
    out["sweep"] = run_sweep(workload, root, data_path, aqe_variants=aqe_variants, tracked=tracked)
    if workload.baselines:
        out["plain"] = run_plain(workload, root, data_path, coalesce=True)
        if workload.all_baselines:
            out["plain_no_coalesce"] = run_plain(workload, root, data_path, coalesce=False)
        out["local"] = run_local(workload, data, joblib=workload.all_baselines)
    elif workload.ideal:
        out["local"] = run_local(workload, data, joblib=False)
    if overhead_figure:
        _log(f"{workload.key}: per-run overhead of train_group in this process (bench/overhead.py)")
        out["overhead"] = overhead.measure(workload, data)
        _log(
            f"{workload.key}: overhead {100 * (out['overhead']['overhead_ratio'] or 0):.1f}% of fit+score"
        )
    return out


def run_demo(
    root: Path, *, target: str = "local", env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The repo's demo project (a copy: its seeds and models unchanged) through ``dbt build`` on ``target``."""
    project = root / "project"
    for part in ("models", "python_models", "macros", "seeds", "tests"):
        shutil.copytree(REPO / part, project / part, dirs_exist_ok=True)
    shutil.copy(REPO / "dbt_project.yml", project / "dbt_project.yml")
    (root / "profiles").mkdir(parents=True, exist_ok=True)
    import yaml

    profile = dbt_build.target_profile(target)
    (root / "profiles" / "profiles.yml").write_text(yaml.safe_dump(profile, sort_keys=False))
    _log(f"demo: dbt build of the repo's demo project (a copy), target {target}")
    build = dbt_build.run_build(project, root, memory=False, env=env)
    if build["returncode"] != 0:
        raise RuntimeError(f"demo build failed: see {root / 'dbt_stdout.txt'}")
    split = logsplit.split(project, wall_seconds=build["wall_seconds"])
    jobs = eventlog.summary(root / "spark" / "events")
    split["spark_jobs_per_group"] = {
        group: {"jobs": len(items), "seconds": round(sum(j["seconds"] or 0 for j in items), 3)}
        for group, items in jobs.items()
    }
    _log(f"demo: build {build['wall_seconds']:.1f} s")
    return split


def _machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cores": CORES, "python": platform.python_version(), "started": datetime.now(UTC).isoformat(),
        "load_average_at_start": [round(x, 2) for x in load],
    }  # fmt: skip


def _scenarios(text: str, scale: float) -> list[tuple[str, float]]:
    """``"W1,W2:0.5"`` -> ``[("W1", scale), ("W2", 0.5)]``; W3 and W5 bring their companions."""
    out = []
    for item in text.split(","):
        key, _, own = item.strip().partition(":")
        for name in ALIASES.get(key, [key]):
            out.append((name, float(own) if own else scale))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--scenarios",
        default="W1,W2,W3,W4,W5,demo",
        help="comma-separated: W1..W5, W3b, W5s, demo; NAME:SCALE overrides --scale",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="size factor (1.0 = the issue's sizes)"
    )
    parser.add_argument("--run", help="run name (default: a timestamp)")
    parser.add_argument(
        "--no-aqe-variants", action="store_true",
        help="skip the dbt-sweep variants with adaptive coalescing off (they only confirm the partitioning)",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true",
        help="judge issue 14's targets (bench/checks.py); implies --tracked and --overhead; exit 1 when "
             "a target is missed or not measured",
    )  # fmt: skip
    parser.add_argument(
        "--tracked", action="store_true",
        help="also build the tracked W1 variant (sweep_tracked: MLflow level runs, winners' models)",
    )  # fmt: skip
    parser.add_argument(
        "--overhead", action="store_true",
        help="also measure W1's per-run overhead of train_group in this process (bench/overhead.py)",
    )  # fmt: skip
    args = parser.parse_args()
    names = _scenarios(args.scenarios, args.scale)
    run = args.run or datetime.now().strftime("%Y%m%d-%H%M%S") + f"-x{args.scale:g}"
    root = BENCH / "results" / run
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": _machine(), "scale": args.scale, "scenarios": {}}
    for name, scale in names:
        started = time.perf_counter()
        if name == "demo":
            results["demo"] = run_demo(root / "demo")
        else:
            results["scenarios"][name] = run_workload(
                workloads(scale)[name], root / name, aqe_variants=not args.no_aqe_variants,
                tracked=args.tracked or args.check, overhead_figure=name == "W1" and (args.overhead or args.check),
            )  # fmt: skip
            results["scenarios"][name]["scale"] = scale
            results["scenarios"][name]["bench_wall_seconds"] = time.perf_counter() - started
        (root / "results.json").write_text(json.dumps(results, indent=1, default=str))
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.check:
        judged = checks.evaluate(results)
        results["checks"] = [
            {"name": c.name, "figure": c.figure, "limit": c.limit, "unit": c.unit, "met": c.met,
             "detail": c.detail}
            for c in judged
        ]  # fmt: skip
    (root / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (root / "report.md").write_text(report.markdown(results))
    print(report.markdown(results))
    _log(f"wrote {root / 'results.json'} and {root / 'report.md'}")
    if args.check:
        print("\nIssue 14 targets (--check):")
        for c in judged:
            print(
                f"  {c.status:>12}  {c.show(c.figure):>9}  (limit {c.show(c.limit)})  {c.name}  [{c.shown_detail}]"
            )
        for note in checks.notes(results):
            print(f"  note: {note}")
        print(f"  {checks.summary(judged)}")
        sys.exit(checks.exit_code(judged))


if __name__ == "__main__":
    main()
