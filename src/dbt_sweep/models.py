"""The entry points the dbt Python models call: one call each, so model files stay thin.

``sweep_manifest`` expands the spec over the groups of the feature table; ``sweep_runs`` trains every
manifest row with a pandas grouped-map function (``cogroup(...).applyInPandas``), one output row per
manifest row; ``sweep_predictions`` scores new rows with each group's winner. Each validates its
config before any Spark job runs, then hands over to :mod:`dbt_sweep.spark`.

A model file::

    import dbt_sweep.models


    def model(dbt, session):
        spec = dbt.config.get("sweep")
        features = dbt.ref("feat_demo_regression")
        manifest = dbt.ref("sweep_manifest")
        return dbt_sweep.models.sweep_runs(features, manifest, spec, model=dbt.this.identifier)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame

from dbt_sweep.exceptions import SpecProblem, SweepSpecError
from dbt_sweep.scoring import parse_scoring
from dbt_sweep.spark import columns as _spark
from dbt_sweep.spark.manifest import manifest_frame
from dbt_sweep.spark.runs import train_runs
from dbt_sweep.spark.scoring import score_rows
from dbt_sweep.spec import SweepSpec, check_columns, parse_spec
from dbt_sweep.tracking.store import warm_imports

__all__ = ["sweep_manifest", "sweep_predictions", "sweep_runs"]


def sweep_manifest(features: DataFrame, spec: Mapping[str, Any] | None, *, model: str) -> DataFrame:
    """One row per training run: group x estimator x parameter combination.

    Parameters
    ----------
    features : pyspark.sql.DataFrame
        The feature table the spec's ``source`` names.
    spec : mapping or None
        The model's ``sweep`` config, as ``dbt.config.get("sweep")`` returns it.
    model : str
        The dbt model's name, for error messages.

    Returns
    -------
    pyspark.sql.DataFrame
        The manifest (see :func:`dbt_sweep.manifest.build_manifest`); no copies of the data.

    Raises
    ------
    SweepSpecError
        The spec is invalid or does not fit the table (before any Spark job runs).
    SweepDataError
        The feature table has no rows.
    """
    sweep = _validated(features, spec, model=model)
    manifest = manifest_frame(features, sweep, model=model)
    warm_imports(sweep.tracking.enabled)  # while dbt writes the manifest: the runs model's imports
    return manifest


def sweep_runs(
    features: DataFrame,
    manifest: DataFrame,
    spec: Mapping[str, Any] | None,
    *,
    model: str,
    previous: DataFrame | None = None,
    retry: str | None = None,
    progress_interval: float | None = None,
) -> DataFrame:
    """One output row per manifest row, ``ok`` or not: trained, or carried forward unchanged.

    Features and manifest are cogrouped by work unit (group, or group and shard) and each unit is
    trained by :func:`dbt_sweep.training.train_unit` in a Spark Python worker. Units are spread over
    ``4 x cores`` tasks, largest estimated cost first, so every core stays busy (Spark's adaptive
    execution would otherwise coalesce a small grouped-map stage into one task). Given the
    ``previous`` table, only runs whose identity (``run_key``, ``data_fingerprint``,
    ``trained_with``) is new or changed train; the others are carried forward as they are
    (:mod:`dbt_sweep.spark.carry`).

    Parameters
    ----------
    features : pyspark.sql.DataFrame
        The feature table the spec's ``source`` names.
    manifest : pyspark.sql.DataFrame
        The ``sweep_manifest`` model built from the same spec.
    spec : mapping or None
        The model's ``sweep`` config, as ``dbt.config.get("sweep")`` returns it.
    model : str
        The dbt model's name, for error messages and progress lines.
    previous : pyspark.sql.DataFrame or None, default=None
        The model's current table on an incremental build
        (``session.table(str(dbt.this)) if dbt.is_incremental else None``); None trains every run
        (first build, ``--full-refresh``), and so does ``retrain: all`` in the spec.
    retry : {"failed"} or None, default=None
        ``"failed"`` (``dbt build --vars '{sweep_retry: failed}'``) also retrains the previous
        table's ``failed`` rows.
    progress_interval : float or None, default=None
        Seconds between progress lines in dbt's log (default 10).

    Returns
    -------
    pyspark.sql.DataFrame
        The runs: ``train_unit``'s columns, then ``primary_metric_name``, ``primary_direction``
        (``minimize`` or ``maximize``), ``mlflow_run_id``, ``dbt_invocation_id`` (of the build that
        trained the row), ``data_fingerprint`` and ``trained_with``.

    Raises
    ------
    SweepSpecError
        ``retry`` is not ``"failed"`` or empty.
    TrackingError
        MLflow tracking failed and ``sweep.tracking.on_error`` is ``fail`` (see
        :mod:`dbt_sweep.tracking`). With tracking enabled, training runs here (eagerly, into a
        local checkpoint) rather than when dbt writes the table: the parent run's figure, the group
        runs and the winner models need every result.
    """
    sweep = _validated(features, spec, model=model)
    if retry in ("", "none", "None"):
        retry = None
    if retry not in (None, "failed"):
        raise SweepSpecError(
            [
                SpecProblem(
                    "vars.sweep_retry",
                    f"must be 'failed' or unset. Got {retry!r} instead. Run "
                    "`dbt build --vars '{sweep_retry: failed}'` to retrain the failed runs.",
                )
            ],
            model=model,
        )
    return train_runs(
        features,
        manifest,
        sweep,
        model=model,
        previous=previous,
        retry=retry,
        progress_interval=progress_interval,
    )


def _validated(features: DataFrame, spec: Mapping[str, Any] | None, *, model: str) -> SweepSpec:
    sweep = parse_spec(spec, model=model)
    check_columns(sweep, _spark.column_kinds(features), model=model)
    return sweep


def sweep_predictions(
    rows: DataFrame,
    best: DataFrame,
    spec: Mapping[str, Any] | None,
    scoring: Mapping[str, Any] | None,
    *,
    model: str,
    existing: DataFrame | None = None,
) -> DataFrame:
    """One prediction per scoring row, by the winning model of the row's group.

    Parameters
    ----------
    rows : pyspark.sql.DataFrame
        The rows to score (the ``scoring.source`` model): key, group and feature columns.
    best : pyspark.sql.DataFrame
        The sweep's ``best_models``: one row per group with the winner's skops bytes.
    spec : mapping or None
        The sweep spec (``dbt.config.get("sweep")``): task, key and group columns.
    scoring : mapping or None
        The model's ``scoring`` config: ``source``, ``partition_by``, ``probabilities``.
    model : str
        The dbt model's name, for error messages.
    existing : pyspark.sql.DataFrame or None, default=None
        The model's current table on an incremental run. With ``scoring.partition_by``, only rows
        from the latest scored partition on are scored again (insert_overwrite then replaces just
        those partitions), so a daily run adds a day without rescoring history.

    Returns
    -------
    pyspark.sql.DataFrame
        See :func:`dbt_sweep.scoring.predict.prediction_columns`; groups without a winner give rows with a
        null prediction and a reason, never missing rows.
    """
    sweep = parse_spec(spec, model=model)
    config = parse_scoring(scoring, model=model)
    if not sweep.key:
        raise SweepSpecError(
            [
                SpecProblem(
                    "sweep.key",
                    "is required by a predictions model: it names the row id "
                    "each prediction carries. Got None instead.",
                )
            ],
            model=model,
        )
    required = [sweep.key, *sweep.group_by, *([config.partition_by] if config.partition_by else [])]
    missing = [c for c in required if c not in rows.columns]
    if missing:
        raise SweepSpecError(
            [
                SpecProblem(
                    "scoring.source",
                    f"names model '{config.source}', which lacks the columns "
                    f"{missing}. Available columns are: {rows.columns}.",
                )
            ],
            model=model,
        )
    return score_rows(rows, best, sweep, config, existing=existing)
