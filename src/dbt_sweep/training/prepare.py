"""What every run of a work unit shares: the group's rows checked, ordered, split and preprocessed.

:func:`prepare_unit` turns a group's pandas rows into a :class:`PreparedUnit` once per unit: the
features in a form sklearn accepts, the target, the train/test splits, the column roles the
pipeline needs, and a cache of fitted preprocessing per set of training rows, so that runs (and
search trials) training on the same rows fit imputation, scaling and encoding once. A group that
cannot be trained raises :class:`~dbt_sweep.training.split.UnfitGroup`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dbt_sweep.spec import KFoldSplit, SweepSpec, TimeSplit
from dbt_sweep.training.split import Split, UnfitGroup, make_splits, time_order

__all__ = ["PreparedUnit", "canonical_order", "holdout_rows", "prepare_unit", "sklearn_ready"]

Steps = list[tuple[str, Any]]

# Row sets whose fitted preprocessing a unit keeps: a unit's splits plus a search's validation
# carve and halving rounds; past this the cache starts over rather than grow with the trials.
MAX_PREPROCESSED = 16


@dataclass
class PreparedUnit:
    """The data every run of one work unit trains on.

    Attributes
    ----------
    X : DataFrame
        Feature columns, converted by :func:`sklearn_ready`, in canonical row order.
    y : ndarray
        Target, by row position.
    classes : ndarray or None
        The group's classes (classification), else None.
    splits : list of (ndarray, ndarray)
        Training and test row positions of each split (one per fold for k-fold).
    refit : bool
        Whether the stored model is refit on every row (k-fold).
    numeric, categorical : list of str
        Feature columns scaled / one-hot encoded by the pipeline.
    n_encoded : int
        Number of columns after encoding (caps ``select_k_best``).
    order : ndarray or None, default=None
        Time splits: row positions in time order.
    values : ndarray or None, default=None
        ``X`` as one float64 array, when every feature is numeric and the pipeline starts with a
        numeric scikit-learn step: fits and predictions take it (see :meth:`take`).
    n_train, n_test : int
        Training rows of the stored model and test rows summed over the splits.
    preprocessed : dict
        Fitted preprocessing steps, their output and their transforms of held-out rows, by set of
        training rows (see :meth:`preprocess` and :meth:`scoring_input`).
    """

    X: pd.DataFrame
    y: np.ndarray
    classes: np.ndarray | None
    splits: list[Split]
    refit: bool
    numeric: list[str]
    categorical: list[str]
    n_encoded: int
    order: np.ndarray | None = None
    values: np.ndarray | None = None
    n_train: int = field(init=False)
    n_test: int = field(init=False)
    preprocessed: dict[bytes, tuple[Steps, Any, dict[bytes, Any]]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        self.n_train = len(self.y) if self.refit else len(self.splits[0][0])
        self.n_test = sum(len(test) for _, test in self.splits)

    def preprocess(self, steps: Steps, train: np.ndarray) -> tuple[Steps, Any]:
        """Return preprocessing steps fitted on the rows ``train``, and their output for those rows.

        The first call for a set of rows fits ``steps`` in place, one ``fit_transform`` after the
        other as ``Pipeline.fit`` does, and keeps them; later calls for the same rows return the
        kept steps (shared objects, never refitted) and ignore ``steps``. That is sound because the
        preprocessing steps are built from the spec and the group alone, never from the estimator
        or its params (:func:`dbt_sweep.training.pipeline.build_pipeline`).

        Parameters
        ----------
        steps : list of (str, transformer)
            Unfitted preprocessing steps of a run's pipeline (every step but the estimator).
        train : ndarray of int
            Row positions to fit on.

        Returns
        -------
        steps : list of (str, transformer)
            The fitted steps.
        Xt : DataFrame or ndarray
            ``X[train]`` transformed by them (``X[train]`` itself when there are no steps).
        """
        key = train.tobytes()
        cached = self.preprocessed.get(key)
        if cached is None:
            X = self.take(train)
            for _, step in steps:
                X = step.fit_transform(X, self.y[train])
            if len(self.preprocessed) >= MAX_PREPROCESSED:
                self.preprocessed.clear()
            cached = self.preprocessed[key] = (steps, X, {})
        return cached[0], cached[1]

    def scoring_input(self, pipe: Any, train: np.ndarray, test: np.ndarray) -> tuple[Any, Any]:
        """What to score ``pipe`` (fitted by :meth:`fit` on the rows ``train``) with on ``test``.

        Every run of a unit fitted on the same rows shares one fitted preprocessing, so the test
        rows are transformed once for them all and the estimator alone predicts: the same
        numbers as ``pipe.predict(X[test])``, without repeating imputation, scaling and
        scikit-learn's input validation per run (or per search trial). A pipeline whose
        preprocessing is not the unit's cached one (or has none) is returned as it is.

        Returns
        -------
        model : estimator
            ``pipe``'s final estimator, or ``pipe`` itself.
        X : DataFrame or ndarray
            The test rows, transformed for ``model``.
        """
        steps = pipe.steps[:-1]
        cached = self.preprocessed.get(train.tobytes())
        if not steps or cached is None or not _same_steps(steps, cached[0]):
            return pipe, self.take(test)
        transforms = cached[2]  # kept with the steps they came from, and cleared with them
        key = test.tobytes()
        X = transforms.get(key)
        if X is None:
            X = self.take(test)
            for _, step in steps:
                if step is not None and step != "passthrough":  # as Pipeline skips them
                    X = step.transform(X)
            transforms[key] = X
        return pipe.steps[-1][1], X

    def take(self, rows: np.ndarray) -> Any:
        """The feature rows at positions ``rows``, as fits and predictions take them.

        The float64 array when there is one: scikit-learn validates a DataFrame's names and
        dtypes on every step, which cost more than fitting and scoring a small group's model.
        A model fitted on it gets the column names back when it is stored
        (:func:`dbt_sweep.training.store.with_feature_names`). Its numbers can differ from a
        DataFrame fit's in the last bit (numpy sums in an order that follows memory layout).
        """
        return self.values[rows] if self.values is not None else self.X.iloc[rows]

    def fit(self, pipe: Any, train: np.ndarray) -> None:
        """Fit ``pipe`` on the rows ``train``, reusing the unit's fitted preprocessing for them.

        Equivalent to ``pipe.fit(X[train], y[train])``: only the estimator is fitted when another
        run already fitted the preprocessing on the same rows (see :meth:`preprocess`).
        """
        steps, X = self.preprocess(pipe.steps[:-1], train)
        pipe.steps[:-1] = steps
        pipe.steps[-1][1].fit(X, self.y[train])


def _same_steps(steps: Steps, fitted: Steps) -> bool:
    """Whether ``steps`` are the very fitted objects ``fitted`` (not equal ones: fitted state)."""
    return len(steps) == len(fitted) and all(
        a is b for (_, a), (_, b) in zip(steps, fitted, strict=True)
    )


def sklearn_ready(X: pd.DataFrame) -> pd.DataFrame:
    """Convert nullable and boolean columns to what sklearn accepts (float64 / object + NaN).

    Parameters
    ----------
    X : DataFrame
        Feature columns as Spark's Arrow conversion delivers them.

    Returns
    -------
    DataFrame
        Same columns and index; booleans and nullable numbers as float64 with NaN, pandas
        strings as object with NaN.

    Examples
    --------
    >>> X = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "b": [True, False]})
    >>> sklearn_ready(X).dtypes.tolist()
    [dtype('float64'), dtype('float64')]
    """
    if all(dtype == np.float64 or dtype == np.int64 for dtype in X.dtypes):
        return X  # what Arrow gives for double and bigint columns: nothing to convert
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


def canonical_order(features: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Return a group's rows in an order that does not depend on how Spark delivered them.

    Splits pick rows by position, so without this a shuffle that reorders a group's rows would
    change its train/test split, its metrics and its winner between two builds of the same data.

    Parameters
    ----------
    features : DataFrame
        The group's rows.
    spec : SweepSpec
        Gives ``key``: rows are sorted by it when the table has it, else by every column.

    Returns
    -------
    DataFrame
        The sorted rows, with a fresh ``RangeIndex``.
    """
    by = [spec.key] if spec.key and spec.key in features.columns else sorted(features.columns)
    return features.sort_values(by=by, kind="stable", na_position="last").reset_index(drop=True)


def column_roles(X: pd.DataFrame, spec: SweepSpec) -> tuple[list[str], list[str], int]:
    """Split the feature columns into numeric and one-hot encoded ones, as the spec asks.

    Parameters
    ----------
    X : DataFrame
        The feature columns (after :func:`sklearn_ready`).
    spec : SweepSpec
        Gives ``preprocessing.one_hot`` and ``preprocessing.impute``.

    Returns
    -------
    numeric, categorical : list of str
        Columns scaled and columns one-hot encoded (``one_hot.columns: auto``: the non-numeric ones).
    n_encoded : int
        Number of columns after encoding (missing values count as a category unless imputed).
    """
    names = list(X.columns)
    one_hot = spec.preprocessing.one_hot
    categorical: list[str] = []
    if one_hot is not None and one_hot.columns == "auto":
        categorical = [c for c in names if not pd.api.types.is_numeric_dtype(X[c])]
    elif one_hot is not None:
        categorical = [c for c in one_hot.columns if c in names]
    numeric = [c for c in names if c not in categorical]
    drop_na = spec.preprocessing.impute is not None
    n_encoded = len(numeric) + sum(int(X[c].nunique(dropna=drop_na)) for c in categorical)
    return numeric, categorical, n_encoded


def prepare_unit(features: pd.DataFrame, spec: SweepSpec) -> PreparedUnit:
    """Check a group's rows and compute what every run of its unit shares: X, y, splits.

    Parameters
    ----------
    features : DataFrame
        The group's rows: every column of the feature table,
        which is not a feature unless ``spec.features`` lists it.
    spec : SweepSpec
        The validated sweep spec.

    Returns
    -------
    PreparedUnit

    Raises
    ------
    UnfitGroup
        When the group is empty or too small (``skipped``), or its columns or target are
        unusable (``failed``).
    """
    if features.empty:
        raise UnfitGroup("skipped", f"no rows for this group in {spec.source}")
    frame = canonical_order(features, spec)
    n = len(frame)
    if n < spec.min_rows:
        raise UnfitGroup("skipped", f"group has {n} rows; sweep.min_rows is {spec.min_rows}")
    names = spec.feature_columns(list(frame.columns))
    missing = [c for c in [spec.target, *names] if c not in frame.columns]
    if missing:
        raise UnfitGroup("failed", f"columns {missing} are not in {spec.source}")
    target = frame[spec.target]
    if target.isna().any():
        reason = f"target {spec.target!r} has {int(target.isna().sum())} null values in this group; filter them in the feature model"
        raise UnfitGroup("failed", reason)
    y = target.to_numpy()
    classes = None
    if spec.task == "classification":
        classes = np.unique(y)
        if len(classes) < 2:
            raise UnfitGroup(
                "skipped", f"target {spec.target!r} has a single class ({classes[0]}) in this group"
            )
    X = sklearn_ready(frame[names])
    numeric, categorical, n_encoded = column_roles(X, spec)
    splits = make_splits(spec, frame, y, classes)
    order = time_order(frame, spec.split.column) if isinstance(spec.split, TimeSplit) else None
    refit = isinstance(spec.split, KFoldSplit)
    values = X.to_numpy(dtype="float64") if _numeric_pipeline(X, spec, categorical) else None
    return PreparedUnit(
        X, y, classes, splits, refit, numeric, categorical, n_encoded, order, values
    )


def _numeric_pipeline(X: pd.DataFrame, spec: SweepSpec, categorical: list[str]) -> bool:
    """Whether the unit's pipelines can fit on a float64 array: every feature numeric, and a
    scikit-learn step first (an estimator fitted directly might use a DataFrame's names)."""
    pre = spec.preprocessing
    first_is_ours = pre.impute is not None or pre.scale != "none" or pre.select_k_best is not None
    return (
        first_is_ours
        and not categorical
        and all(pd.api.types.is_numeric_dtype(dtype) for dtype in X.dtypes)
    )


def holdout_rows(features: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Return the rows a random or time split of ``spec`` holds out for testing, for one group.

    They are the rows every run of the group was scored on: scoring them with a run's model
    reproduces the run's recorded metrics (used to check predictions against ``sweep_runs``).

    Parameters
    ----------
    features : DataFrame
        The group's rows, as :func:`prepare_unit` takes them.
    spec : SweepSpec
        The validated sweep spec.

    Returns
    -------
    DataFrame
        The test rows, every column, in canonical order.

    Raises
    ------
    ValueError
        For k-fold splits, where every row is held out once.
    """
    if isinstance(spec.split, KFoldSplit):
        raise ValueError(
            "holdout_rows needs a random or time split; with k-fold every row is held out once."
        )
    unit = prepare_unit(features, spec)
    return canonical_order(features, spec).iloc[unit.splits[0][1]].reset_index(drop=True)
