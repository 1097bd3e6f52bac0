"""The grouped-map training function: one work unit's rows and runs in, one row per run out.

``train_unit`` runs inside Spark's Python workers through
``cogroup(...).applyInPandas`` and equally in a notebook on one pandas group. It
never raises: every problem becomes a ``failed`` or ``skipped`` row, so a sweep
always reports on every run in the manifest.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from dbt_sweep.manifest import WORK_UNIT_SHARD_COLUMN, build_manifest, group_stats
from dbt_sweep.metrics import compute_metrics
from dbt_sweep.spec import KFoldSplit, RandomSplit, SweepSpec, TimeSplit
from dbt_sweep.spec.search import is_search_run
from dbt_sweep.training.pipeline import build_pipeline
from dbt_sweep.training.search.core import SearchError
from dbt_sweep.training.search.fit import fit_epochs, search_params
from dbt_sweep.training.serialize import dump_model

__all__ = [
    "canonical_order",
    "holdout_rows",
    "run_columns",
    "run_schema",
    "sklearn_ready",
    "train_group",
    "train_unit",
]

_MAX_ERROR = 2000
_PASSTHROUGH = ["estimator_name", "estimator", "params", "search", WORK_UNIT_SHARD_COLUMN]
_HEAD = [
    ("estimator_name", "string"),
    ("estimator", "string"),
    ("params", "string"),
    ("search", "string"),
    (WORK_UNIT_SHARD_COLUMN, "int"),
    ("status", "string"),
    ("error", "string"),
]
_TAIL = [
    ("primary_metric", "double"),
    ("n_train", "bigint"),
    ("n_test", "bigint"),
    ("fit_seconds", "double"),
    ("score_seconds", "double"),
    ("model", "binary"),
    ("trained_at", "timestamp"),
    ("trials", "string"),  # search runs: JSON array of every trial; null for grid runs
]
# pandas dtypes per Spark type: NaN in float64 and <NA> in Int64 both arrive as SQL NULL
# through Arrow (pyspark masks ``series.isnull()``).
_PANDAS = {
    "string": "object",
    "int": "int32",
    "double": "float64",
    "bigint": "Int64",
    "binary": "object",
}


def run_columns(
    spec: SweepSpec, group_types: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """Return ``train_unit``'s output columns as ``(name, Spark SQL type)``.

    Parameters
    ----------
    spec : SweepSpec
        Gives the metric columns.
    group_types : mapping of str to str or None, default=None
        Group column -> Spark SQL type, in ``spec.group_by`` order; placed right after
        ``run_key``. When None, the group columns are left out.
    """
    metrics = [(name, "double") for name in spec.metrics or []]
    return [("run_key", "string"), *(group_types or {}).items(), *_HEAD, *metrics, *_TAIL]


def run_schema(spec: SweepSpec, group_types: Mapping[str, str]) -> str:
    """Return the DDL schema string for ``applyInPandas``, e.g. ``"`run_key` string, ..."``."""
    return ", ".join(f"`{name}` {kind}" for name, kind in run_columns(spec, group_types))


class _Unfit(Exception):
    """A group-level reason why no run of the unit can be trained."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class _Group:
    X: pd.DataFrame
    y: np.ndarray
    classes: np.ndarray | None
    splits: list[tuple[np.ndarray, np.ndarray]]
    refit: bool
    numeric: list[str]
    categorical: list[str]
    n_encoded: int
    order: np.ndarray | None = None  # time splits: row positions in time order
    n_train: int = field(init=False)
    n_test: int = field(init=False)
    # Fitted preprocessing steps and the rows they output, per set of training rows: they depend on
    # the rows only, never on the estimator, so every run of the unit shares them (see _fit).
    preprocessed: dict[bytes, tuple[list[tuple[str, Any]], Any]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        self.n_train = len(self.y) if self.refit else len(self.splits[0][0])
        self.n_test = sum(len(test) for _, test in self.splits)


def sklearn_ready(X: pd.DataFrame) -> pd.DataFrame:
    """Convert nullable and boolean columns to what sklearn accepts (float64 / object + NaN)."""
    out = {}
    for col in X.columns:
        s = X[col]
        if pd.api.types.is_bool_dtype(s) or (
            pd.api.types.is_numeric_dtype(s)
            and isinstance(s.dtype, pd.api.extensions.ExtensionDtype)
        ):
            out[col] = s.to_numpy(dtype="float64", na_value=np.nan)
        elif isinstance(s.dtype, pd.StringDtype):
            out[col] = s.astype(object).where(s.notna(), np.nan)
        else:
            out[col] = s
    return pd.DataFrame(out, index=X.index)


def _splits(
    spec: SweepSpec, frame: pd.DataFrame, y: np.ndarray, classes: np.ndarray | None
) -> list[Any]:
    n, split = len(y), spec.split
    counts = np.unique(y, return_counts=True)[1] if classes is not None else np.array([])
    if isinstance(split, KFoldSplit):
        if n < split.folds:
            raise _Unfit(
                "skipped", f"group has {n} rows, fewer than sweep.split.folds ({split.folds})"
            )
        seed = split.seed if split.shuffle else None
        if classes is not None and counts.min() >= split.folds:
            return list(
                StratifiedKFold(split.folds, shuffle=split.shuffle, random_state=seed).split(
                    frame, y
                )
            )
        return list(KFold(split.folds, shuffle=split.shuffle, random_state=seed).split(frame))
    n_test = math.ceil(split.test_size * n)
    if n - n_test < 1:
        reason = f"group has {n} rows; a {split.kind} split with test_size {split.test_size} leaves no training rows"
        raise _Unfit("skipped", reason)
    if isinstance(split, TimeSplit):
        times = frame[split.column]
        if times.isna().any():
            raise _Unfit(
                "failed", f"time column {split.column!r} has {int(times.isna().sum())} null values"
            )
        order = np.argsort(times.to_numpy(), kind="stable")
        return [(np.sort(order[: n - n_test]), np.sort(order[n - n_test :]))]
    assert isinstance(split, RandomSplit)
    k = len(counts)
    stratify = (
        classes is not None
        and split.stratify
        and counts.min() >= 2
        and min(n_test, n - n_test) >= k
    )
    train, test = train_test_split(
        np.arange(n), test_size=n_test, random_state=split.seed, stratify=y if stratify else None
    )
    return [(np.sort(train), np.sort(test))]


def _prepare(features: pd.DataFrame, spec: SweepSpec) -> _Group:
    """Check the group and compute what every run of the unit shares: X, y, splits."""
    if features.empty:
        raise _Unfit("skipped", f"no rows for this group in {spec.source}")
    frame = canonical_order(features, spec)
    n = len(frame)
    if n < spec.min_rows:
        raise _Unfit("skipped", f"group has {n} rows; sweep.min_rows is {spec.min_rows}")
    listed = isinstance(spec.features, list) and WORK_UNIT_SHARD_COLUMN in spec.features
    columns = [c for c in frame.columns if c != WORK_UNIT_SHARD_COLUMN or listed]
    names = spec.feature_columns(columns)
    missing = [c for c in [spec.target, *names] if c not in frame.columns]
    if missing:
        raise _Unfit("failed", f"columns {missing} are not in {spec.source}")
    target = frame[spec.target]
    if target.isna().any():
        reason = f"target {spec.target!r} has {int(target.isna().sum())} null values in this group; filter them in the feature model"
        raise _Unfit("failed", reason)
    y = target.to_numpy()
    classes = None
    if spec.task == "classification":
        classes = np.unique(y)
        if len(classes) < 2:
            raise _Unfit(
                "skipped", f"target {spec.target!r} has a single class ({classes[0]}) in this group"
            )
    X = sklearn_ready(frame[names])
    one_hot = spec.preprocessing.one_hot
    categorical: list[str] = []
    if one_hot is not None and one_hot.columns == "auto":
        categorical = [c for c in names if not pd.api.types.is_numeric_dtype(X[c])]
    elif one_hot is not None:
        categorical = [c for c in one_hot.columns if c in names]
    numeric = [c for c in names if c not in categorical]
    drop_na = spec.preprocessing.impute is not None
    n_encoded = len(numeric) + sum(int(X[c].nunique(dropna=drop_na)) for c in categorical)
    splits = _splits(spec, frame, y, classes)
    order = None
    if isinstance(spec.split, TimeSplit):
        order = np.argsort(frame[spec.split.column].to_numpy(), kind="stable")
    refit = isinstance(spec.split, KFoldSplit)
    return _Group(X, y, classes, splits, refit, numeric, categorical, n_encoded, order)


def canonical_order(features: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """A group's rows in an order that does not depend on how Spark delivered them.

    Splits pick rows by position, so without this a shuffle that reorders a group's rows would
    change its train/test split, its metrics and its winner between two builds of the same data.
    Sorted by ``spec.key`` when the table has it, else by every column.
    """
    present = [c for c in features.columns if c != WORK_UNIT_SHARD_COLUMN]
    by = [spec.key] if spec.key and spec.key in features.columns else sorted(present)
    return features.sort_values(by=by, kind="stable", na_position="last").reset_index(drop=True)


def holdout_rows(features: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """The rows a random or time split of ``spec`` holds out for testing, for one group.

    They are the rows every run of the group was scored on: scoring them with a run's model
    reproduces the run's recorded metrics (used to check predictions against ``sweep_runs``).

    Raises
    ------
    ValueError
        For k-fold splits, where every row is held out once.
    """
    if isinstance(spec.split, KFoldSplit):
        raise ValueError(
            "holdout_rows needs a random or time split; with k-fold every row is held out once."
        )
    group = _prepare(features, spec)
    frame = canonical_order(features, spec)
    return frame.iloc[group.splits[0][1]].reset_index(drop=True)


_MAX_PREPROCESSED = 16  # row sets kept per unit (search trials and halving rounds add some)


def _fit(pipe: Any, group: _Group, train: np.ndarray) -> None:
    """Fit ``pipe`` on the rows ``train``, reusing the unit's fitted preprocessing for those rows.

    Equivalent to ``pipe.fit(X[train], y[train])``: the preprocessing steps are built from the
    spec and the group alone, so the first run on a set of rows fits them and later runs on the
    same rows take the fitted steps (shared objects, never refitted) and fit only the estimator.
    """
    key = train.tobytes()
    cached = group.preprocessed.get(key)
    if cached is None:
        X = group.X.iloc[train]
        steps = pipe.steps[:-1]
        for _, step in steps:
            X = step.fit_transform(X, group.y[train])
        if len(group.preprocessed) >= _MAX_PREPROCESSED:
            group.preprocessed.clear()
        cached = group.preprocessed[key] = (steps, X)
    steps, X = cached
    pipe.steps[:-1] = steps
    pipe.steps[-1][1].fit(X, group.y[train])


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]


def _run(
    row: Mapping[str, Any], group: _Group, spec: SweepSpec, *, raise_errors: bool = False
) -> dict[str, Any]:
    """Fit and score one manifest row; any exception becomes a ``failed`` result."""
    timing = {"fit_seconds": 0.0, "score_seconds": 0.0}
    extra: dict[str, Any] = {}
    try:
        params = json.loads(row["params"])

        def fit(train: np.ndarray, params: dict[str, Any], epochs: int | None = None) -> Any:
            pipe = build_pipeline(
                row["estimator"], params, spec.preprocessing, task=spec.task,
                numeric=group.numeric, categorical=group.categorical, n_encoded=group.n_encoded,
            )  # fmt: skip
            start = time.perf_counter()
            if epochs is None:
                _fit(pipe, group, train)
            else:  # the winner of a pruned search trains as its trials did: epoch by epoch
                fit_epochs(
                    pipe, group.X.iloc[train], group.y[train], epochs=epochs, classes=group.classes
                )
            timing["fit_seconds"] += time.perf_counter() - start
            return pipe

        epochs = None
        if is_search_run(str(row.get("search")), params):
            try:
                params, trials, epochs = search_params(row, params, group, spec, fit, timing)
            except SearchError as exc:  # keep the failed trials in the output
                extra = {"trials": json.dumps(exc.records, default=str)}
                raise
            extra = {"params": json.dumps(params, sort_keys=True, default=str), "trials": trials}

        folds = []
        for train, test in group.splits:
            pipe = fit(train, params, epochs)
            start = time.perf_counter()
            metrics = spec.metrics or []
            folds.append(
                compute_metrics(
                    pipe, group.X.iloc[test], group.y[test], metrics, classes=group.classes
                )
            )
            timing["score_seconds"] += time.perf_counter() - start
        if group.refit:  # k-fold: metrics are the fold means; the stored model sees every row
            pipe = fit(np.arange(len(group.y)), params)
        scores = {name: float(np.mean([fold[name] for fold in folds])) for name in folds[0]}
    except Exception as exc:  # one run's failure must not lose the others
        if raise_errors:
            raise
        return {"status": "failed", "error": _error(exc), **timing, **extra}
    return {
        "status": "ok", **extra, **scores, "primary_metric": scores[str(spec.primary_metric)],
        "n_train": group.n_train, "n_test": group.n_test, **timing, "pipeline": pipe,
    }  # fmt: skip


class _ModelStore:
    """Serialise a unit's fitted pipelines into the ``model`` column as ``spec.store_models`` asks.

    ``all``: every ``ok`` run, as soon as it is scored. ``best``: only the unit's best ``ok`` run
    (primary metric in its direction, ties to the smallest run_key, as ``sweep_best_models``
    ranks), holding one pipeline at a time. A group's winner is the best of its units' bests, so
    its bytes are always stored. A pipeline skops cannot serialise fails its run.
    """

    def __init__(self, spec: SweepSpec, *, raise_errors: bool) -> None:
        self.keep_all = spec.store_models == "all"
        self.sign = -1.0 if spec.primary_direction == "maximize" else 1.0
        self.raise_errors = raise_errors
        self.best: tuple[tuple[float, str], dict[str, Any], Any] | None = None

    def add(self, result: dict[str, Any], run_key: str) -> None:
        pipe = result.pop("pipeline", None)
        if pipe is None:
            return
        if self.keep_all:
            self._dump(result, pipe)
            return
        rank = (self.sign * float(result["primary_metric"]), run_key)
        if math.isnan(rank[0]):  # never a winner in sweep_best_models either
            return
        if self.best is None or rank < self.best[0]:
            self.best = (rank, result, pipe)

    def finish(self) -> None:
        if self.best is not None:
            self._dump(self.best[1], self.best[2])
            self.best = None

    def _dump(self, result: dict[str, Any], pipe: Any) -> None:
        try:
            result["model"] = dump_model(pipe)
        except Exception as exc:
            if self.raise_errors:
                raise
            result.update(
                status="failed", error=f"the fitted model cannot be serialised: {_error(exc)}"
            )


def _frame(
    manifest: pd.DataFrame, results: list[dict[str, Any]], spec: SweepSpec, now: pd.Timestamp
) -> pd.DataFrame:
    """Assemble the output: manifest identity columns, then the results, with fixed dtypes.

    Built column by column into one dict and one DataFrame: per-column assignment on a frame
    costs more than training a small unit's runs.
    """
    n = len(manifest)
    columns: dict[str, Any] = {
        name: manifest[name].to_numpy() for name in ["run_key", *spec.group_by, *_PASSTHROUGH]
    }
    columns[WORK_UNIT_SHARD_COLUMN] = columns[WORK_UNIT_SHARD_COLUMN].astype("int32")
    searched = [result.get("params") for result in results]
    if any(
        value is not None for value in searched
    ):  # search runs: the best params replace the space
        columns["params"] = np.array(
            [
                found if found is not None else given
                for found, given in zip(searched, columns["params"], strict=True)
            ],
            dtype=object,
        )
    for name, kind in run_columns(spec)[len(_HEAD) - 1 :]:
        if name == "trained_at":
            columns[name] = pd.Series(now, index=range(n), dtype="datetime64[ns, UTC]")
            continue
        values = [result.get(name) for result in results]
        if kind in ("string", "binary"):
            columns[name] = np.array(values, dtype=object) if n else np.array([], dtype=object)
        elif kind == "bigint":
            columns[name] = pd.array(values, dtype="Int64")
        else:
            columns[name] = np.array(
                [np.nan if v is None else v for v in values], dtype=_PANDAS[kind]
            )
    return pd.DataFrame(columns, index=range(n))


def train_unit(
    features: pd.DataFrame, manifest: pd.DataFrame, spec: SweepSpec, *, raise_errors: bool = False
) -> pd.DataFrame:
    """Train every run of one work unit (a group, or a group's shard) on the group's rows.

    Parameters
    ----------
    features : DataFrame
        The group's rows: every column of the feature table, and possibly a ``shard``
        column, which is ignored.
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
        Exactly one row per manifest row, columns as :func:`run_columns` with the group
        columns (manifest dtypes) after ``run_key``. ``status`` is ``ok``, ``failed`` or
        ``skipped``; ``error`` says why when not ``ok``. Never raises for bad data or a
        failing estimator.

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
        return _frame(manifest, [], spec, now)
    try:
        group = _prepare(features, spec)
    except _Unfit as exc:
        return _frame(
            manifest, [{"status": exc.status, "error": str(exc)}] * len(manifest), spec, now
        )
    except Exception as exc:  # bad data must fail the unit's rows, not the Spark job
        if raise_errors:
            raise
        return _frame(
            manifest, [{"status": "failed", "error": _error(exc)}] * len(manifest), spec, now
        )
    store = _ModelStore(spec, raise_errors=raise_errors)
    results = []
    for row in manifest.to_dict("records"):
        results.append(_run(row, group, spec, raise_errors=raise_errors))
        store.add(results[-1], str(row["run_key"]))
    store.finish()
    return _frame(manifest, results, spec, now)


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

    Returns
    -------
    DataFrame
        One row per run, as :func:`train_unit` returns.
    """
    manifest = build_manifest(spec, group_stats(features, spec), parallelism=1)
    if estimator is not None:
        manifest = manifest[manifest["estimator_name"] == estimator]
    parts = [
        train_unit(
            rows,
            manifest.merge(rows[spec.group_by].drop_duplicates(), on=spec.group_by),
            spec,
            raise_errors=raise_errors,
        )
        for _, rows in features.groupby(spec.group_by, sort=True)
    ]
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else train_unit(features, manifest.iloc[:0], spec)
    )
