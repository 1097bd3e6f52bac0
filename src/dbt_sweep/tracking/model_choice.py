"""Which models a build logs, into which run, under which names: one rule for workers and driver.

A model is logged for the winner of each group (``log_models: best``) or every ``ok`` run
(``all``). Spark workers log them when a unit alone can tell which ones
(:attr:`~dbt_sweep.tracking.context.TrackingContext.models_on_workers`), the driver otherwise; both
build each model here, so they agree on the run that owns it and on its names. The winner is
:func:`dbt_sweep.training.selection.best_runs`'s, the rule training and the ``sweep_best_models``
macro use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from dbt_sweep.spec import SweepSpec
from dbt_sweep.tracking.context import TrackingContext
from dbt_sweep.tracking.logged_models import ModelToLog
from dbt_sweep.training.selection import best_runs, rank_key

__all__ = [
    "group_key",
    "model_name",
    "model_to_log",
    "models_to_log",
    "registered_model_name",
    "winner_keys",
]


def group_key(row: Mapping[str, Any], group_by: Sequence[str]) -> tuple[Any, ...]:
    """The values of a row's group columns, in ``group_by`` order.

    Parameters
    ----------
    row : mapping
        A result row.
    group_by : sequence of str
        The spec's group columns.

    Returns
    -------
    tuple
        The group's key, as ``DataFrame.groupby`` over ``group_by`` names groups.

    Examples
    --------
    >>> group_key({"region": "eu", "store": 7, "run_key": "k1"}, ["region", "store"])
    ('eu', 7)
    """
    return tuple(row[c] for c in group_by)


def model_name(ctx: TrackingContext, row: Mapping[str, Any]) -> str:
    """A logged model's name: ``model`` in its own child run; with the group and run key where one
    run holds many (the group run, the parent run).

    Parameters
    ----------
    ctx : TrackingContext
        The level and group columns.
    row : mapping
        The result row whose model it is (``run_key``, ``estimator_name``, group columns).

    Returns
    -------
    str
        The logged model's name.

    Examples
    --------
    >>> ctx = TrackingContext("u", "1", "e", "/a", "p", "sweep", "best", False, "fail", ["g"], [])
    >>> model_name(ctx, {"g": "a", "run_key": "0123456789", "estimator_name": "ridge"})
    'model-a-01234567'
    """
    if ctx.level == "runs":
        return "model"
    if ctx.level == "groups":
        return f"{row['estimator_name']}-{str(row['run_key'])[:8]}"
    return "-".join(["model", *(str(row[c]) for c in ctx.group_by), str(row["run_key"])[:8]])


def registered_model_name(ctx: TrackingContext, key: Sequence[Any]) -> str:
    """``register: true``: one registered model per group, a version per build's winner.

    Parameters
    ----------
    ctx : TrackingContext
        The experiment, whose name prefixes the registered model's.
    key : sequence
        The group's key (:func:`group_key`).

    Returns
    -------
    str
        The registered model's name.

    Examples
    --------
    >>> ctx = TrackingContext("u", "1", "sales", "/a", "p", "runs", "best", True, "fail", ["g"], [])
    >>> registered_model_name(ctx, ("eu", 7))
    'sales-eu-7'
    """
    return "-".join([ctx.experiment, *map(str, key)])


def models_to_log(ctx: TrackingContext, runs: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """The rows whose model the driver logs.

    Parameters
    ----------
    ctx : TrackingContext
        ``log_models`` and whether the workers logged the models already.
    runs : DataFrame
        Every row of the sweep's results (``status``, ``primary_metric``, ``run_key``, groups).
    spec : SweepSpec
        The group columns and the primary metric's direction.

    Returns
    -------
    DataFrame
        The winners, or with ``log_models: all`` every ``ok`` run; no rows with ``log_models: none``
        or when the workers logged them (:attr:`TrackingContext.models_on_workers`).

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec({"source": "f", "group_by": "g", "target": "y", "task": "regression",
    ...     "estimators": [{"estimator": "sklearn.linear_model.Ridge"}], "primary_metric": "r2"}, model="m")
    >>> ctx = TrackingContext("u", "1", "e", "/a", "p", "groups", "best", False, "fail", ["g"], [])
    >>> runs = pd.DataFrame({"g": ["a", "a", "b"], "run_key": ["k1", "k2", "k3"],
    ...     "status": ["ok", "ok", "failed"], "primary_metric": [0.5, 0.9, None]})
    >>> models_to_log(ctx, runs, spec)["run_key"].tolist()
    ['k2']
    """
    if ctx.log_models == "none" or ctx.models_on_workers:
        return runs.iloc[:0]
    if ctx.log_models == "all":
        return runs[runs["status"] == "ok"]
    return best_runs(runs, spec.group_by, spec.primary_direction)


def winner_keys(rows: pd.DataFrame, ctx: TrackingContext) -> set[str]:
    """The ``run_key`` of each group's winner among a unit's rows.

    :func:`~dbt_sweep.training.selection.best_runs`'s result, computed with its
    :func:`~dbt_sweep.training.selection.rank_key` in plain Python: a unit has a handful of rows,
    where pandas' groupby costs ~5 ms a call on a worker.

    Parameters
    ----------
    rows : DataFrame
        A unit's results (``status``, ``primary_metric``, ``run_key``, group columns).
    ctx : TrackingContext
        The group columns and the primary metric's direction.

    Returns
    -------
    set of str
        One ``run_key`` per group that has a candidate.

    Examples
    --------
    >>> ctx = TrackingContext("u", "1", "e", "/a", "p", "runs", "best", False, "fail", ["g"], [])
    >>> rows = pd.DataFrame({"g": ["a", "a", "b"], "run_key": ["k2", "k1", "k3"],
    ...     "status": ["ok", "ok", "failed"], "primary_metric": [0.5, 0.5, 0.1]})
    >>> winner_keys(rows, ctx)
    {'k1'}
    """
    best: dict[tuple[Any, ...], tuple[float, str]] = {}
    columns = [rows[c].tolist() for c in ctx.group_by]
    for i, (status, metric, run_key) in enumerate(
        zip(rows["status"], rows["primary_metric"], rows["run_key"], strict=True)
    ):
        # pandas gives NaN or None for a missing metric; rank_key rules out both, and inf
        rank = rank_key(status, metric, run_key, direction=ctx.primary_direction)
        if rank is None:
            continue
        key = tuple(column[i] for column in columns)
        if key not in best or rank < best[key]:
            best[key] = rank
    return {run_key for _, run_key in best.values()}


def model_to_log(
    ctx: TrackingContext,
    row: Mapping[str, Any],
    *,
    blob: bytes,
    example: pd.DataFrame,
    winner: bool,
    group_run_id: str | None = None,
) -> ModelToLog | None:
    """The model of one result row, in the run that owns it, or None when it needs none.

    Parameters
    ----------
    ctx : TrackingContext
        The level (which run owns a model), names and ``register``.
    row : mapping
        A result row with ``run_key``, the group columns and, at ``level: runs``,
        ``data_fingerprint`` and ``mlflow_run_id``.
    blob : bytes
        The row's skops bytes.
    example : DataFrame
        A few of the group's feature rows.
    winner : bool
        Whether the row won its group: with ``register: true`` winners become versions of their
        group's registered model.
    group_run_id : str or None, default=None
        At ``level: groups``, the group's run.

    Returns
    -------
    ModelToLog or None
        None when the row's child run is one an earlier build logged with its model, or when the
        run that would own it was not logged (``on_error: warn``).

    Examples
    --------
    >>> ctx = TrackingContext("u", "1", "sales", "/a", "parent", "sweep", "best", True, "fail", ["g"], [])
    >>> m = model_to_log(ctx, {"g": "eu", "run_key": "0123456789"}, blob=b"", example=None, winner=True)
    >>> m.run_id, m.name, m.registered_name
    ('parent', 'model-eu-01234567', 'sales-eu')
    """
    if ctx.level == "runs":
        run_id = row["mlflow_run_id"]
        earlier = ctx.earlier_run(row["run_key"], row["data_fingerprint"], str(row["status"]))
        if earlier and earlier[0] == run_id and earlier[1]:
            return None  # a reused child run that already has its model
    elif ctx.level == "groups":
        run_id = group_run_id
    else:
        run_id = ctx.parent_run_id
    if not run_id:
        return None  # its run was not logged (on_error: warn)
    registered = (
        registered_model_name(ctx, group_key(row, ctx.group_by))
        if ctx.register and winner
        else None
    )
    return ModelToLog(
        str(run_id), bytes(blob), model_name(ctx, row), example, registered,
        tuple(ctx.allowed_modules),
    )  # fmt: skip
