"""Model bytes for tables: skops, never pickle, and only the types a sweep's pipelines are made of.

Loading a pickle read from a table executes whatever code it names; skops only builds objects of
types the caller trusts. But skops also *calls* some of the names a file holds while loading it (a
``ConstructorFromReduceNode`` calls its type with arguments from the file), so trusting a type is
trusting it to be called with anything. Trusting by module prefix (``"sklearn."``, ``"numpy."``)
therefore trusted ``numpy.load`` and ``sklearn.utils._testing.assert_run_python_script_without_output``,
which runs Python source taken from the file (issue 17). The types trusted here are named one by one:

- estimator classes: a class whose module is under one of the allowed estimator module prefixes
  (the spec's ``allowed_modules``) and that is an estimator (a ``BaseEstimator`` subclass, or has
  ``fit`` and ``get_params`` as :mod:`dbt_sweep.spec.estimators` requires), never a function;
- the helper types fitted pipelines hold, listed in :data:`HELPER_TYPES` (single types) and
  :data:`HELPER_FAMILIES` (a base class whose sklearn/scipy subclasses are trusted: losses, kernels,
  distance metrics, optimizers, sparse matrices);
- skops' own default trusted types (builtins, numpy scalars and ufuncs, sklearn's public estimators).

See DESIGN.md, "Why these choices".
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import skops.io as sio
from sklearn.base import BaseEstimator

from dbt_sweep.exceptions import UntrustedModelError
from dbt_sweep.training.model_bytes import dump_canonical

__all__ = [
    "DEFAULT_ESTIMATOR_MODULES",
    "HELPER_FAMILIES",
    "HELPER_TYPES",
    "dump_model",
    "helper_types",
    "load_model",
    "trusted_types",
]

#: Estimator module prefixes trusted when the caller names none: the spec's default ``allowed_modules``.
DEFAULT_ESTIMATOR_MODULES: tuple[str, ...] = ("sklearn.",)

#: Single helper types that fitted pipelines hold and skops does not trust by default, as
#: ``(module, attribute)``: found by dumping every estimator and preprocessing step of
#: ``pytests/unit/test_serialize.py`` and reading ``skops.io.get_untrusted_types``.
HELPER_TYPES: tuple[tuple[str, str], ...] = (
    ("numpy", "dtype"),  # the dtype of every array skops stores
    ("sklearn.tree._tree", "Tree"),  # trees, forests, gradient boosting
    ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor"),
    ("sklearn.neighbors", "KDTree"),
    ("sklearn.neighbors", "BallTree"),
    ("sklearn.calibration", "_CalibratedClassifier"),  # CalibratedClassifierCV
    ("sklearn.utils", "Bunch"),  # named_estimators_ of stacking and voting ensembles
    # SelectKBest's score functions: the two functions build_pipeline passes (never "any function")
    ("sklearn.feature_selection", "f_regression"),
    ("sklearn.feature_selection", "f_classif"),
)
# skops declines to trust Tree and TreePredictor by default: their node arrays are indexed without
# bounds checks, so a crafted file can crash predict() (a segfault, not code execution; see
# skops.io.exceptions.UNTRUSTED_TYPE_REASONS). Every tree model needs them; model bytes come from
# our own tables, and the row check refuses tables that were not built from the spec.

#: Base classes ``(module, attribute)`` whose subclasses defined under ``prefix`` are trusted.
HELPER_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("sklearn._loss.loss", "BaseLoss", "sklearn."),  # GLMs, gradient boosting
    ("sklearn._loss.link", "BaseLink", "sklearn."),
    ("sklearn.gaussian_process.kernels", "Kernel", "sklearn."),
    ("sklearn.metrics", "DistanceMetric", "sklearn."),  # neighbours' trees
    ("sklearn.neural_network._stochastic_optimizers", "BaseOptimizer", "sklearn."),  # MLP*
    ("scipy.sparse", "spmatrix", "scipy.sparse."),
    ("scipy.sparse", "sparray", "scipy.sparse."),
)


def _type_name(obj: Any) -> str:
    """``module.name`` as skops writes it (``skops.io._utils.get_type_name``)."""
    return f"{obj.__module__}.{obj.__name__}"


def _resolve(module: str, attribute: str) -> Any:
    """Return ``module.attribute``, or None when this version of the library has no such name."""
    try:
        return getattr(importlib.import_module(module), attribute, None)
    except ImportError:
        return None


def _subclasses(base: type) -> Iterator[type]:
    for sub in base.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@lru_cache(maxsize=1)
def helper_types() -> frozenset[str]:
    """Return the names of the helper types trusted beyond estimators (once per process).

    Returns
    -------
    frozenset of str
        :data:`HELPER_TYPES`, and the subclasses of each :data:`HELPER_FAMILIES` base that are
        defined under its prefix; names a library version lacks are left out.

    Examples
    --------
    >>> sorted(name for name in helper_types() if name.startswith("sklearn.tree"))
    ['sklearn.tree._tree.Tree']
    """
    names = set()
    for module, attribute in HELPER_TYPES:
        obj = _resolve(module, attribute)
        if obj is not None:
            names.add(_type_name(obj))
    for module, attribute, prefix in HELPER_FAMILIES:
        base = _resolve(module, attribute)
        if isinstance(base, type):
            names.update(
                _type_name(sub) for sub in _subclasses(base) if sub.__module__.startswith(prefix)
            )
    return frozenset(names)


@lru_cache(maxsize=1024)
def _is_estimator_class(name: str, allowed_modules: tuple[str, ...]) -> bool:
    """Whether ``name`` is an estimator class defined in a module under ``allowed_modules``.

    The module is imported only when its name is under an allowed prefix (the spec imports its
    estimators from the same modules); what it holds under ``name`` must then be a class, an
    estimator, and defined there, so a function or a re-exported name never passes.
    """
    if not name.startswith(allowed_modules):
        return False
    module, _, attribute = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attribute, None)
    except Exception:  # a missing or broken module: not a type we can vouch for
        return False
    if not isinstance(obj, type) or _type_name(obj) != name:
        return False
    return issubclass(obj, BaseEstimator) or (hasattr(obj, "fit") and hasattr(obj, "get_params"))


def _names(types: Iterable[str | type]) -> set[str]:
    return {t if isinstance(t, str) else _type_name(t) for t in types}


def trusted_types(
    data: bytes,
    *,
    allowed_modules: Sequence[str] = DEFAULT_ESTIMATOR_MODULES,
    trusted: Iterable[str | type] = (),
) -> list[str]:
    """Check every type in model bytes and return the ones to pass to skops as ``trusted``.

    For callers that load the bytes with skops themselves (MLflow's ``skops_trusted_types``):
    ``sio.loads(data, trusted=trusted_types(data))`` is :func:`load_model`.

    Parameters
    ----------
    data : bytes
        Output of :func:`dump_model`.
    allowed_modules : sequence of str, default=("sklearn.",)
        Estimator module prefixes (the spec's ``allowed_modules``): estimator classes defined under
        them are trusted. Functions and other types under them are not.
    trusted : iterable of str or type, default=()
        Further types to trust, by name (``"module.Class"``) or as the type itself.

    Returns
    -------
    list of str
        The blob's types that skops does not trust by default, sorted; all checked.

    Raises
    ------
    UntrustedModelError
        If the blob holds a type that is neither an allowed estimator class, a helper type
        (:func:`helper_types`), nor in ``trusted``.
    """
    allowed = tuple(allowed_modules)
    extra = _names(trusted) | helper_types()
    untrusted = sio.get_untrusted_types(data=data)
    offending = [
        name for name in untrusted if name not in extra and not _is_estimator_class(name, allowed)
    ]
    if offending:
        raise UntrustedModelError(offending, allowed)
    return untrusted


def dump_model(obj: Any) -> bytes:
    """Serialise a fitted estimator or pipeline to skops bytes.

    Parameters
    ----------
    obj : object
        The fitted model.

    Returns
    -------
    bytes
        Canonical skops bytes (:func:`~dbt_sweep.training.model_bytes.dump_canonical`): the same
        model fitted on the same data gives the same bytes in every build.
    """
    return dump_canonical(obj)


def load_model(
    data: bytes,
    *,
    allowed_modules: Sequence[str] = DEFAULT_ESTIMATOR_MODULES,
    trusted: Iterable[str | type] = (),
) -> Any:
    """Load skops bytes, trusting only estimator classes of ``allowed_modules`` and helper types.

    Parameters
    ----------
    data : bytes
        Output of :func:`dump_model`.
    allowed_modules : sequence of str, default=("sklearn.",)
        Estimator module prefixes, as the spec's ``allowed_modules``: pass ``spec.allowed_modules``
        for a sweep's models. numpy and scipy need no prefix: the array, dtype and sparse types
        models hold are helper types.
    trusted : iterable of str or type, default=()
        Further types to trust, by name or as the type itself, e.g. a helper type of a custom
        estimator. Only for bytes you created yourself or fully trust.

    Returns
    -------
    object
        The loaded model.

    Raises
    ------
    UntrustedModelError
        If the blob holds any other type (see :func:`trusted_types`); nothing in it was built.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> model = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    >>> load_model(dump_model(model)).predict([[2.0]])
    array([4.])
    """
    return sio.loads(
        data, trusted=trusted_types(data, allowed_modules=allowed_modules, trusted=trusted)
    )
