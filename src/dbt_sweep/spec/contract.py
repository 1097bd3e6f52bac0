"""The columns of every table a sweep writes, derived from its spec: what a contract declares.

``python -m dbt_sweep contract`` writes these columns (name, type, description) into a model's YAML,
so a new metric or group column changes the contract without hand-editing it. Pure: the spec and the
types of the columns that come from the data (group, key and partition columns) in, a column list out.

The lists mirror the code that writes each table, and ``pytests/unit/test_contract.py`` holds them
against it: :func:`dbt_sweep.training.run_columns` and the driver's columns (``sweep_runs``), the
manifest's DDL (``sweep_manifest``), :func:`dbt_sweep.scoring.predict.prediction_columns` and the
``sweep_best_models``, ``sweep_trials`` and ``sweep_winner_history`` macros.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from dbt_sweep.exceptions import SpecProblem, SweepSpecError
from dbt_sweep.spec.models import SweepSpec

__all__ = [
    "TABLE_KINDS",
    "ContractColumn",
    "TableKind",
    "contract_columns",
    "data_columns",
    "doc_name",
]

TableKind = Literal["manifest", "runs", "best_models", "history", "trials", "predictions"]
#: What each kind of sweep table is, for messages and the docs.
TABLE_KINDS: dict[str, str] = {
    "manifest": "a sweep_manifest model (dbt_sweep.models.sweep_manifest)",
    "runs": "a sweep_runs model (dbt_sweep.models.sweep_runs), or a view selecting * from one",
    "best_models": "a model calling the sweep_best_models macro",
    "history": "a model calling the sweep_winner_history macro",
    "trials": "a model calling the sweep_trials macro",
    "predictions": "a predictions model (dbt_sweep.models.sweep_predictions), or a view over one",
}

# (name, Spark SQL type, doc block) of each table's fixed columns, in table order. A doc block of
# None is the column's own name.
_MANIFEST = [
    ("estimator_name", "string", None),
    ("estimator", "string", None),
    ("params", "string", "run_params"),
    ("search", "string", "run_search"),
    ("shard", "int", None),
    ("n_rows", "bigint", None),
    ("data_fingerprint", "string", None),
    ("est_cost", "double", None),
    ("spec_hash", "string", None),
]
_RUNS_HEAD = [
    ("estimator_name", "string", None),
    ("estimator", "string", None),
    ("params", "string", "run_params"),
    ("search", "string", "run_search"),
    ("shard", "int", None),
    ("status", "string", "run_status"),
    ("error", "string", "run_error"),
]
_RUNS_TAIL = [
    ("primary_metric", "double", None),
    ("n_train", "bigint", None),
    ("n_test", "bigint", None),
    ("fit_seconds", "double", None),
    ("score_seconds", "double", None),
    ("model", "binary", "run_model"),
    ("trained_at", "timestamp", None),
    ("trials", "string", "run_trials"),
    # added by the driver (dbt_sweep.spark.runs) after training
    ("primary_metric_name", "string", None),
    ("primary_direction", "string", None),
    ("mlflow_run_id", "string", None),
    ("dbt_invocation_id", "string", "run_invocation_id"),
    ("data_fingerprint", "string", None),
    ("trained_with", "string", None),
]
_BEST = [
    ("run_key", "string", None),
    ("estimator_name", "string", None),
    ("estimator", "string", None),
    ("params", "string", "run_params"),
    ("primary_metric_name", "string", None),
    ("primary_direction", "string", None),
    ("primary_metric", "double", None),
    ("n_train", "bigint", None),
    ("n_test", "bigint", None),
    ("model", "binary", "best_model"),
    ("trained_at", "timestamp", None),
    ("mlflow_run_id", "string", None),
]
_HISTORY = [
    ("run_key", "string", None),
    ("estimator_name", "string", None),
    ("primary_metric_name", "string", None),
    ("primary_direction", "string", None),
    ("primary_metric", "double", None),
    ("dbt_invocation_id", "string", "history_invocation_id"),
    ("recorded_at", "timestamp", None),
]
_TRIALS = [
    ("trial_number", "int", None),
    ("params", "string", "trial_params"),
    ("value", "double", "trial_value"),
    ("state", "string", "trial_state"),
    ("seconds", "double", "trial_seconds"),
    ("rows", "bigint", "trial_rows"),
    ("rounds", "int", "trial_rounds"),
    ("epochs", "int", "trial_epochs"),
]
_PREDICTIONS_TAIL = [
    ("status", "string", "prediction_status"),
    ("reason", "string", "prediction_reason"),
    ("run_key", "string", "prediction_run_key"),
    ("estimator_name", "string", None),
    ("scored_at", "timestamp", None),
]


class ContractColumn(NamedTuple):
    """One column of a sweep table: its name, Spark SQL type and the doc block describing it."""

    name: str
    data_type: str
    doc: str

    @property
    def description(self) -> str:
        """The YAML ``description`` value: a reference to the column's doc block."""
        return "{{ doc('" + self.doc + "') }}"


def doc_name(column: str, doc: str | None) -> str:
    """The doc block of a fixed column: ``doc``, or the column's own name."""
    return doc or column


def data_columns(
    spec: SweepSpec, kind: TableKind, *, partition_by: str | None = None, model: str = "?"
) -> list[str]:
    """The columns of a ``kind`` table whose types come from the data, not from dbt-sweep.

    The group columns, and for predictions the key and the partition column: their types are the
    source table's. ``model`` names the sweep's model in the error a predictions table without
    a key raises (:class:`~dbt_sweep.exceptions.SweepSpecError`).
    """
    if kind != "predictions":
        return list(spec.group_by)
    if spec.key is None:
        detail = (
            "must name the key column for a predictions model: each prediction is keyed by it. "
            "Got None instead; set key: <the unique id column of the rows>."
        )
        raise SweepSpecError([SpecProblem("sweep.key", detail)], model=model)
    return [spec.key, *spec.group_by, *([partition_by] if partition_by else [])]


def contract_columns(
    spec: SweepSpec,
    kind: TableKind,
    types: Mapping[str, str],
    *,
    partition_by: str | None = None,
    probabilities: bool = False,
    model: str = "?",
) -> list[ContractColumn]:
    """Return the columns of a ``kind`` table of ``spec``, in table order.

    Parameters
    ----------
    spec : SweepSpec
        The sweep's validated spec: its group columns and metrics shape the tables.
    kind : {"manifest", "runs", "best_models", "history", "trials", "predictions"}
        Which table (see :data:`TABLE_KINDS`).
    types : mapping of str to str
        Spark SQL type of each of :func:`data_columns`.
    partition_by : str or None, default=None
        Predictions only: the scoring config's ``partition_by`` column.
    probabilities : bool, default=False
        Predictions only: the scoring config's ``probabilities`` (classification).
    model : str, default="?"
        The sweep's model, named in errors.

    Returns
    -------
    list of ContractColumn

    Raises
    ------
    KeyError
        When ``types`` lacks one of :func:`data_columns`.
    SweepSpecError
        A predictions table of a spec without a ``key``.

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec(
    ...     {"source": "feat_demo", "group_by": "g", "target": "y", "task": "regression",
    ...      "metrics": ["rmse"], "estimators": [{"estimator": "sklearn.linear_model.Ridge"}]},
    ...     model="sweep_runs",
    ... )
    >>> [c.name for c in contract_columns(spec, "best_models", {"g": "string"})][:3]
    ['g', 'run_key', 'estimator_name']
    >>> contract_columns(spec, "runs", {"g": "string"})[9]
    ContractColumn(name='rmse', data_type='double', doc='metric_rmse')
    """
    wanted = data_columns(spec, kind, partition_by=partition_by, model=model)
    data = [ContractColumn(c, types[c], _data_doc(spec, kind, c, partition_by)) for c in wanted]
    groups = data if kind != "predictions" else []
    run_key = [ContractColumn("run_key", "string", "run_key")]
    metrics = [ContractColumn(m, "double", f"metric_{m}") for m in spec.metrics or []]
    if kind == "manifest":
        return [*run_key, *groups, *_fixed(_MANIFEST)]
    if kind == "runs":
        return [*run_key, *groups, *_fixed(_RUNS_HEAD), *metrics, *_fixed(_RUNS_TAIL)]
    if kind == "best_models":
        return [*groups, *_fixed(_BEST)]
    if kind == "history":
        return [*groups, *_fixed(_HISTORY)]
    if kind == "trials":
        trial_run = [ContractColumn("run_key", "string", "trial_run_key")]
        return [*trial_run, *groups, *_fixed([("estimator_name", "string", None), *_TRIALS])]
    prediction = "double" if spec.task == "regression" else "string"
    out = [*data, ContractColumn("prediction", prediction, "prediction")]
    if spec.task == "classification" and probabilities:
        out.append(ContractColumn("probabilities", "map<string,double>", "probabilities"))
    return [*out, *_fixed(_PREDICTIONS_TAIL)]


def _fixed(columns: Sequence[tuple[str, str, str | None]]) -> list[ContractColumn]:
    return [ContractColumn(name, kind, doc_name(name, doc)) for name, kind, doc in columns]


def _data_doc(spec: SweepSpec, kind: str, column: str, partition_by: str | None) -> str:
    if kind != "predictions":
        return "group_column"
    if column == spec.key:
        return "prediction_key"
    return "prediction_partition" if column == partition_by else "prediction_group"
