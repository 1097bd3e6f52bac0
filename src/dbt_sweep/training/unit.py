"""The grouped-map training function: one work unit's rows and runs in, one row per run out.

``train_unit`` runs inside Spark's Python workers through ``cogroup(...).applyInPandas`` and
equally in a notebook on one pandas group (``train_group``). It prepares the unit once
(:mod:`~dbt_sweep.training.prepare`), fits and scores each manifest row, keeps the models
:mod:`~dbt_sweep.training.store` asks for, and assembles the output
(:mod:`~dbt_sweep.training.frame`). Spark calls it through :mod:`~dbt_sweep.training.bins`, many
units per call. It never raises: every problem becomes a ``failed`` or
``skipped`` row, so a sweep always reports on every run in the manifest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from dbt_sweep.metrics import compute_metrics
from dbt_sweep.spec import SweepSpec
from dbt_sweep.spec.search import is_search_run
from dbt_sweep.training.frame import error_text, records, results_frame
from dbt_sweep.training.pipeline import build_pipeline
from dbt_sweep.training.prepare import PreparedUnit, prepare_unit

# ``holdout_rows`` and ``sklearn_ready`` keep their old import path (tests and bench import them
# from here) as explicit re-exports; new code imports them from ``dbt_sweep.training``.
from dbt_sweep.training.prepare import holdout_rows as holdout_rows
from dbt_sweep.training.prepare import sklearn_ready as sklearn_ready
from dbt_sweep.training.row_check import manifest_row_problems
from dbt_sweep.training.search import SearchError, search_params
from dbt_sweep.training.search.epochs import fit_epochs
from dbt_sweep.training.search.fit import Fit
from dbt_sweep.training.split import UnfitGroup
from dbt_sweep.training.store import ModelStore

__all__ = ["run_row", "train_unit", "unit_results"]


def fit_run(
    estimator: str,
    train: np.ndarray,
    params: dict[str, Any],
    epochs: int | None = None,
    *,
    unit: PreparedUnit,
    spec: SweepSpec,
    timing: dict[str, float],
) -> Pipeline:
    """Build a run's pipeline and fit it on the rows ``train``; add the time to ``timing``.

    Parameters
    ----------
    estimator : str
        Import path of the estimator class.
    train : ndarray of int
        Row positions to fit on.
    params : dict
        Estimator parameters.
    epochs : int or None, default=None
        None: ``fit``, with the unit's cached preprocessing. Else ``partial_fit`` this many
        epochs, as the winner of a pruned search trained during its trials.
    unit : PreparedUnit
        The prepared unit.
    spec : SweepSpec
        Gives the preprocessing and the task.
    timing : dict
        The run's timing; the fit adds to ``fit_seconds``.

    Returns
    -------
    Pipeline
        The fitted pipeline.
    """
    pipe = build_pipeline(
        estimator, params, spec.preprocessing, task=spec.task,
        numeric=unit.numeric, categorical=unit.categorical, n_encoded=unit.n_encoded,
    )  # fmt: skip
    start = time.perf_counter()
    if epochs is None:
        unit.fit(pipe, train)
    else:
        fit_epochs(pipe, unit, train, epochs=epochs)
    timing["fit_seconds"] += time.perf_counter() - start
    return pipe


def score_splits(
    fit: Fit,
    params: dict[str, Any],
    unit: PreparedUnit,
    spec: SweepSpec,
    timing: dict[str, float],
    *,
    epochs: int | None = None,
) -> tuple[dict[str, float], Pipeline]:
    """Fit ``params`` on each split's training rows and score its test rows.

    Parameters
    ----------
    fit : callable
        ``fit(rows, params, epochs) -> Pipeline`` (:func:`fit_run` bound to the run).
    params : dict
        The run's estimator params (a search run's best params).
    unit : PreparedUnit
        The prepared unit.
    spec : SweepSpec
        Gives the metrics.
    timing : dict
        The run's timing; scoring adds to ``score_seconds``.
    epochs : int or None, default=None
        A pruned search's winner: train it epoch by epoch (see :func:`fit_run`).

    Returns
    -------
    scores : dict of str to float
        Every metric of ``spec.metrics``, averaged over the splits (k-fold: the folds).
    pipe : Pipeline
        The model to store: the last split's, or with k-fold a refit on every row.
    """
    folds = []
    for train, test in unit.splits:
        pipe = fit(train, params, epochs)
        start = time.perf_counter()
        model, X_test = unit.scoring_input(pipe, train, test)
        folds.append(
            compute_metrics(model, X_test, unit.y[test], spec.metrics or [], classes=unit.classes)
        )
        timing["score_seconds"] += time.perf_counter() - start
    if unit.refit:  # k-fold: metrics are the fold means; the stored model sees every row
        pipe = fit(np.arange(len(unit.y)), params)
    scores = {name: float(np.mean([fold[name] for fold in folds])) for name in folds[0]}
    return scores, pipe


def run_row(
    row: Mapping[str, Any], unit: PreparedUnit, spec: SweepSpec, *, raise_errors: bool = False
) -> dict[str, Any]:
    """Fit and score one manifest row; any exception becomes a ``failed`` result.

    Parameters
    ----------
    row : mapping
        The manifest row (``estimator``, ``params``, ``search``).
    unit : PreparedUnit
        The prepared unit.
    spec : SweepSpec
        The validated sweep spec.
    raise_errors : bool, default=False
        Let the exception propagate instead (debugging).

    Returns
    -------
    dict
        The run's output columns (see :func:`dbt_sweep.training.frame.results_frame`); an
        ``ok`` result also holds the fitted ``pipeline`` for :class:`~dbt_sweep.training.store.ModelStore`.
    """
    timing = {"fit_seconds": 0.0, "score_seconds": 0.0}
    extra: dict[str, Any] = {}
    try:
        params = json.loads(row["params"])
        fit = partial(fit_run, str(row["estimator"]), unit=unit, spec=spec, timing=timing)
        epochs = None
        if is_search_run(str(row.get("search")), params):
            try:
                params, trials, epochs = search_params(row, params, unit, spec, fit, timing)
            except SearchError as exc:  # keep the failed trials in the output
                extra = {"trials": json.dumps(exc.records, default=str)}
                raise
            extra = {"params": json.dumps(params, sort_keys=True, default=str), "trials": trials}
        scores, pipe = score_splits(fit, params, unit, spec, timing, epochs=epochs)
    except Exception as exc:  # one run's failure must not lose the others
        if raise_errors:
            raise
        return {"status": "failed", "error": error_text(exc), **timing, **extra}
    result = {
        "status": "ok", **extra, **scores, "primary_metric": scores[str(spec.primary_metric)],
        "n_train": unit.n_train, "n_test": unit.n_test, **timing, "pipeline": pipe,
    }  # fmt: skip
    if spec.refit and not unit.refit:  # k-fold models are refit on every row already
        # called by ModelStore for the runs whose model is stored, the winners: refitting every
        # run would double the sweep's fits for models nobody keeps
        result["refit"] = (partial(fit, np.arange(len(unit.y)), params, epochs), len(unit.y))
    return result


def train_unit(
    features: pd.DataFrame, manifest: pd.DataFrame, spec: SweepSpec, *, raise_errors: bool = False
) -> pd.DataFrame:
    """Train every run of one work unit (a group, or a group's shard) on the group's rows.

    Parameters
    ----------
    features : DataFrame
        The group's rows: every column of the feature table (a user's column may be named
        ``shard``: the work unit travels with the manifest rows, never with the data).
    manifest : DataFrame
        The unit's manifest rows (see :func:`dbt_sweep.manifest.build_manifest`).
    spec : SweepSpec
        The validated sweep spec.
    raise_errors : bool, default=False
        Let a run's exception propagate instead of recording a ``failed`` row: for debugging one
        group (``python -m dbt_sweep debug ... --pdb``), never inside Spark.

    Returns
    -------
    DataFrame
        Exactly one row per manifest row, columns as :func:`~dbt_sweep.training.frame.run_columns`
        with the group columns (manifest dtypes) after ``run_key``. ``status`` is ``ok``,
        ``failed`` or ``skipped``; ``error`` says why when not ``ok``. Never raises for bad data
        or a failing estimator.

    Examples
    --------
    >>> from dbt_sweep.manifest import build_manifest, group_stats
    >>> from dbt_sweep.spec import parse_spec
    >>> rng = np.random.default_rng(0)
    >>> group = pd.DataFrame({"g": "a", "x0": rng.normal(size=40), "x1": rng.normal(size=40)})
    >>> group["y"] = 3 * group["x0"] - group["x1"] + rng.normal(scale=0.1, size=40)
    >>> spec = parse_spec({"source": "feat_demo", "group_by": "g", "target": "y", "task": "regression",
    ...     "estimators": [{"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 10.0]}}]},
    ...     model="sweep_runs")
    >>> manifest = build_manifest(spec, group_stats(group, spec), parallelism=1)
    >>> runs = train_unit(group, manifest, spec)
    >>> runs[["g", "params", "status", "n_train", "n_test"]]
       g           params status  n_train  n_test
    0  a   {"alpha": 0.1}     ok       32       8
    1  a  {"alpha": 10.0}     ok       32       8
    >>> bool(runs.loc[0, "r2"] > 0.9)
    True
    """
    now = pd.Timestamp.now(tz="UTC")
    if manifest.empty:
        return results_frame(manifest, [], spec, now)
    refused = manifest_row_problems(manifest, spec)
    rows = records(manifest)
    results = unit_results(features, rows, refused, spec, raise_errors=raise_errors)
    return results_frame(manifest, results, spec, now)


def unit_results(
    features: pd.DataFrame,
    manifest: list[dict[str, Any]],
    refused: list[str | None],
    spec: SweepSpec,
    *,
    raise_errors: bool = False,
) -> list[dict[str, Any]]:
    """The result dicts of one unit's runs (``manifest``: its rows as dicts), in manifest order
    (see :func:`train_unit`).

    ``refused`` holds each row's problem from
    :func:`~dbt_sweep.training.row_check.manifest_row_problems`: a row the spec does not produce
    (a rewritten table) is never built, since its estimator path would be imported and called
    with its params, which can run any code.
    """
    refusals = [
        None if problem is None else {"status": "failed", "error": problem} for problem in refused
    ]
    try:
        unit = prepare_unit(features, spec)
    except UnfitGroup as exc:
        unfit = {"status": exc.status, "error": str(exc)}
        return [r or dict(unfit) for r in refusals]
    except Exception as exc:  # bad data must fail the unit's rows, not the Spark job
        if raise_errors:
            raise
        failed = {"status": "failed", "error": error_text(exc)}
        return [r or dict(failed) for r in refusals]
    names = list(unit.X.columns) if unit.values is not None else None
    store = ModelStore(spec, raise_errors=raise_errors, feature_names=names)
    results = []
    for row, refusal in zip(manifest, refusals, strict=True):
        results.append(refusal or run_row(row, unit, spec, raise_errors=raise_errors))
        store.add(results[-1], str(row["run_key"]))
    store.finish()
    return results
