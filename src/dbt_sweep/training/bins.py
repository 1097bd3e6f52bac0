"""Many work units in one call: a bin of units in, one result row per manifest row out.

Spark's grouped map costs a fixed amount per call (two pandas frames built from Arrow, one frame
back); at one unit per call that cost exceeded the training of a small unit. So the driver deals
units into bins (:mod:`dbt_sweep.spark.slots`) and each call trains a whole bin here: the rows of
the bin's groups, each group once, and the bin's manifest rows. Units are found by their group
columns and shard, null group values included; a unit without rows is ``skipped`` as in
:func:`~dbt_sweep.training.unit.train_unit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from dbt_sweep.manifest import WORK_UNIT_SHARD_COLUMN, build_manifest, group_stats
from dbt_sweep.spec import SweepSpec
from dbt_sweep.training.frame import records, results_frame
from dbt_sweep.training.row_check import manifest_row_problems
from dbt_sweep.training.unit import unit_results

__all__ = ["split_units", "train_group", "train_units"]


def split_units(
    features: pd.DataFrame, runs: pd.DataFrame, spec: SweepSpec
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Each work unit of a bin: its group's rows of ``features``, and the positions of its rows
    in ``runs`` (manifest rows, or the result rows made from them).

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec({"source": "f", "group_by": "g", "target": "y", "task": "regression",
    ...     "estimators": [{"estimator": "sklearn.linear_model.Ridge"}]}, model="sweep_runs")
    >>> features = pd.DataFrame({"g": ["a", None, "a"], "y": [1.0, 2.0, 3.0]})
    >>> runs = pd.DataFrame({"g": [None, "a", "b"], "shard": [0, 0, 0]})
    >>> [(rows["y"].tolist(), positions.tolist()) for rows, positions in split_units(features, runs, spec)]
    [([1.0, 3.0], [1]), ([2.0], [0]), ([], [2])]
    """
    by = list(spec.group_by)
    n = len(features) if all(c in features.columns for c in by) else 0  # Spark's empty side
    keys = pd.concat([features[by].iloc[:n] if n else None, runs[by]], ignore_index=True)
    codes = keys.groupby(by, dropna=False, sort=False).ngroup().to_numpy()
    rows_of = pd.RangeIndex(n).groupby(codes[:n]) if n else {}
    shards = runs[WORK_UNIT_SHARD_COLUMN].to_numpy()
    units = pd.DataFrame({"code": codes[n:], "shard": shards}).groupby(["code", "shard"]).indices
    empty = np.array([], dtype=np.int64)
    for (code, _), positions in sorted(units.items(), key=lambda item: item[0]):
        rows = features.iloc[np.asarray(rows_of.get(code, empty))]
        yield rows, np.sort(positions)


def train_units(
    features: pd.DataFrame,
    manifest: pd.DataFrame,
    spec: SweepSpec,
    *,
    raise_errors: bool = False,
    on_unit: Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Train every work unit of a bin; exactly one row per manifest row, in manifest order.

    Parameters
    ----------
    features : DataFrame
        The rows of the bin's groups, each group once, every feature table column.
    manifest : DataFrame
        The bin's manifest rows, of one or more units.
    spec : SweepSpec
        The validated sweep spec.
    raise_errors : bool, default=False
        Let a run's exception propagate (debugging; see :func:`~dbt_sweep.training.train_unit`).
    on_unit : callable or None, default=None
        Called after each unit trains, before the next one does, with the unit's rows, the
        positions of its runs in ``manifest`` and its result frame: MLflow logging per unit, so a
        task that dies mid-bin has logged exactly the units it finished.

    Returns
    -------
    DataFrame
        As :func:`~dbt_sweep.training.train_unit` returns for the same rows, one frame for the bin.
    """
    now = pd.Timestamp.now(tz="UTC")
    refused = manifest_row_problems(manifest, spec) if len(manifest) else []
    results: list[dict[str, Any]] = [{} for _ in range(len(manifest))]
    manifest_rows = records(manifest)  # once per bin: per unit it cost a fifth of a fit
    for rows, positions in split_units(features, manifest, spec):
        unit = unit_results(
            rows, [manifest_rows[i] for i in positions], [refused[i] for i in positions], spec,
            raise_errors=raise_errors,
        )  # fmt: skip
        for position, result in zip(positions, unit, strict=True):
            results[position] = result
        if on_unit is not None:
            on_unit(rows, positions, results_frame(manifest.iloc[positions], unit, spec, now))
    return results_frame(manifest, results, spec, now)


def train_group(
    features: pd.DataFrame,
    spec: SweepSpec,
    *,
    estimator: str | None = None,
    raise_errors: bool = False,
) -> pd.DataFrame:
    """Train a sweep on pandas rows in a notebook, for debugging: manifest, then each group.

    Parameters
    ----------
    features : DataFrame
        Rows of one or more groups, with every feature table column.
    spec : SweepSpec
        The validated sweep spec.
    estimator : str or None, default=None
        Only train the estimator with this ``name`` (``sweep.estimators[i].name``).
    raise_errors : bool, default=False
        Let a run's exception propagate (see :func:`~dbt_sweep.training.train_unit`).

    Returns
    -------
    DataFrame
        One row per run, in manifest order, as :func:`~dbt_sweep.training.train_unit` returns.
    """
    manifest = build_manifest(spec, group_stats(features, spec), parallelism=1)
    if estimator is not None:
        manifest = manifest[manifest["estimator_name"] == estimator]
    return train_units(features, manifest.reset_index(drop=True), spec, raise_errors=raise_errors)
