"""Scheduled builds retrain only what changed: which manifest rows to train, and which rows of the
previous ``sweep_runs`` to carry forward unchanged.

A run's identity is its ``run_key`` (group + estimator + params + the training-relevant spec), the
group's ``data_fingerprint`` and ``trained_with`` (the versions that change results). A manifest row
whose identity matches a row of the previous table is carried forward as it is (model bytes,
metrics, ``mlflow_run_id``, ``trained_at``, ``dbt_invocation_id``); every other manifest row trains;
previous rows whose ``run_key`` left the manifest are dropped. ``retry="failed"`` also retrains the
carried rows whose status is ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dbt_sweep.spark.columns import local_frame
from dbt_sweep.spec import SweepSpec
from dbt_sweep.training.selection import best_runs

__all__ = ["IDENTITY", "RESULTS_VERSION", "RunPlan", "plan_runs", "trained_with"]

#: Bump when a change to dbt-sweep changes what training produces for the same run on the same
#: data (split, preprocessing, metrics, model bytes): every run of every sweep then retrains once.
RESULTS_VERSION = "2"  # 2: fits on float64 arrays (last-bit changes), oversized groups

#: The columns of ``sweep_runs`` that say whether a row can be carried forward.
IDENTITY = ("run_key", "data_fingerprint", "trained_with")


def trained_with(spec: SweepSpec) -> str:
    """What a run's result depends on beyond its ``run_key`` and data, as stored in
    ``sweep_runs.trained_with``: the versions that change results, and the settings that decide a
    run's outcome (``min_rows`` skips it, ``max_group_rows`` fails it) or whether its model bytes are kept (the primary metric
    picks the winner; ``store_models``).

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec({"source": "f", "group_by": "g", "target": "y", "task": "regression",
    ...     "estimators": [{"estimator": "sklearn.linear_model.Ridge"}]}, model="m")
    >>> trained_with(spec).startswith("dbt-sweep results 2, scikit-learn ")
    True
    >>> trained_with(spec).split("; ")[1]
    'primary_metric mae, store_models best, min_rows 10, max_group_rows 1000000'
    """
    return (
        f"dbt-sweep results {RESULTS_VERSION}, scikit-learn {version('scikit-learn')}; "
        f"primary_metric {spec.primary_metric}, store_models {spec.store_models}, "
        f"min_rows {spec.min_rows}, max_group_rows {spec.max_group_rows}"
        + (", refit" if spec.refit else "")
    )


@dataclass(frozen=True)
class RunPlan:
    """What a build does with each run: the manifest rows to train, the previous rows to keep."""

    to_train: DataFrame
    carried: DataFrame | None
    n_train: int
    n_carried: int
    n_removed: int

    def summary(self, model: str) -> str:
        """The line the build's log shows for the plan."""
        return (
            f"{model}: {self.n_train} runs to train, {self.n_carried} carried forward unchanged, "
            f"{self.n_removed} removed (left the spec or the data)"
        )


def plan_runs(
    manifest: DataFrame,
    current: pd.DataFrame,
    previous: DataFrame | None,
    *,
    versions: str,
    group_by: list[str],
    retry: str | None = None,
) -> RunPlan:
    """Split the manifest into runs to train and previous rows to carry forward.

    The decision is made on the driver from two small collects (the manifest's identity columns and
    the previous table's), so a build that changes little pays for few Spark jobs.

    Parameters
    ----------
    manifest : pyspark.sql.DataFrame
        The ``sweep_manifest`` rows of this build.
    current : pandas.DataFrame
        The manifest's ``run_key`` and ``data_fingerprint``, collected.
    previous : pyspark.sql.DataFrame or None
        The current ``sweep_runs`` table on an incremental build; None on a first build, a
        ``--full-refresh`` or with ``retrain: all`` (then every row trains).
    versions : str
        This build's :func:`trained_with`.
    group_by : list of str
        The spec's group columns.
    retry : {"failed"} or None, default=None
        ``"failed"``: carried rows whose status is ``failed`` train again.

    Returns
    -------
    RunPlan
    """
    if previous is None or not set(IDENTITY) <= set(previous.columns):
        return RunPlan(manifest, None, len(current), 0, 0)
    rows = previous.select(
        *group_by, *IDENTITY, "status", "primary_metric", "primary_direction",
        F.col("model").isNotNull().alias("has_model"),
    ).toPandas()  # fmt: skip
    now = current[["run_key", "data_fingerprint"]].assign(trained_with=versions)
    unchanged = rows.merge(now, on=list(IDENTITY), how="inner")
    if retry == "failed":
        unchanged = unchanged[unchanged["status"] != "failed"]
    kept = set(unchanged["run_key"])
    kept -= _runs_of_dethroned_groups(rows, kept, group_by)
    n_removed = int((~rows["run_key"].isin(set(current["run_key"]))).sum())
    if not kept:
        return RunPlan(manifest, None, len(current), 0, n_removed)
    keep = local_frame(manifest.sparkSession, "`run_key` string", {"run_key": sorted(kept)})
    return RunPlan(
        to_train=manifest.join(F.broadcast(keep), "run_key", "left_anti"),
        carried=previous.join(F.broadcast(keep), "run_key", "left_semi"),
        n_train=len(current) - len(kept),
        n_carried=len(kept),
        n_removed=n_removed,
    )


def _runs_of_dethroned_groups(rows: pd.DataFrame, kept: set[str], group_by: list[str]) -> set[str]:
    """The kept runs of groups whose previous winner is not kept.

    Only a group's winner carries model bytes (``store_models: best``): were its other runs carried
    while the winner retrains or leaves, a carried run could become the winner without bytes. Such
    a group retrains all its runs.
    """
    if rows.empty:
        return set()
    directions = rows["primary_direction"].dropna()
    direction = str(directions.iloc[0]) if len(directions) else "minimize"
    winners = best_runs(rows[rows["has_model"]], group_by, direction)
    lost = winners[~winners["run_key"].isin(kept)][group_by]
    if lost.empty:
        return set()
    dethroned = rows.merge(lost, on=group_by, how="inner")["run_key"]
    return set(dethroned) & kept
