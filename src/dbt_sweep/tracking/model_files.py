"""The folder ``mlflow.sklearn.save_model`` writes, made from the skops bytes a sweep already holds.

``mlflow.sklearn.log_model`` costs 75-90 ms a model here even with explicit requirements (issue #4):
it serialises the model again, resolves the pip requirements and the Python environment, loads the
model back to validate a serving input, and reads the run's params and metric histories. The bytes
in ``sweep_runs`` already are the skops file MLflow would write, and the environment is the same
for every model of a process, so :func:`write_model_dir` writes the same directory (``MLmodel``
with the ``sklearn`` and ``python_function`` flavours, ``model.skops``, input example, signature,
``conda.yaml`` / ``python_env.yaml`` / ``requirements.txt``) from those bytes. It loads with
``mlflow.sklearn.load_model`` / ``mlflow.pyfunc.load_model`` like any logged model.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "environment_files", "pip_requirements", "quiet_signature", "signature_of", "write_model_dir",
]  # fmt: skip

_SKOPS_FILE = "model.skops"  # mlflow.sklearn._SKOPS_MODEL_DATA_SUBPATH
_ENV_FILES = ("conda.yaml", "python_env.yaml", "requirements.txt")
_SIGNATURES: dict[tuple[Any, ...], Any] = {}  # by the schema of the example and the predictions
_MAX_SIGNATURES = 64


def pip_requirements() -> list[str]:
    """The environment a logged model needs, stated, so MLflow never infers it (seconds a model).

    Returns
    -------
    list of str
        Pinned requirements of the packages a model's skops file needs.
    """
    from importlib.metadata import version

    return [
        f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "numpy", "pandas", "scipy")
    ]


@functools.cache
def environment_files() -> dict[str, bytes]:
    """``conda.yaml``, ``python_env.yaml`` and ``requirements.txt`` as MLflow writes them.

    Made once per process by saving a tiny model with :func:`pip_requirements`, so the files stay
    MLflow's own (and the process pays MLflow's imports here, once).

    Returns
    -------
    dict of str to bytes
        File name -> content.
    """
    import mlflow.sklearn
    from sklearn.dummy import DummyRegressor

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        mlflow.sklearn.save_model(
            DummyRegressor().fit([[0.0]], [0.0]), str(path), serialization_format="skops",
            pip_requirements=pip_requirements(),
        )  # fmt: skip
        return {name: (path / name).read_bytes() for name in _ENV_FILES}


def _load_trusted(blob: bytes, allowed_modules: tuple[str, ...]) -> tuple[Any, list[str]]:
    """The model in ``blob`` and the types skops had to be told to trust, which MLflow records
    in ``MLmodel`` (``skops_trusted_types``) to load it again: the trust rule of
    :func:`dbt_sweep.training.serialize.load_model`, whose type list is needed here.

    Raises
    ------
    UntrustedModelError
        ``blob`` holds a type that is neither an estimator class of ``allowed_modules`` nor a
        helper type dbt-sweep trusts.
    """
    import skops.io as sio

    from dbt_sweep.training.serialize import trusted_types

    trusted = trusted_types(blob, allowed_modules=allowed_modules)
    return sio.loads(blob, trusted=trusted), trusted


def quiet_signature(example: pd.DataFrame, predictions: Any) -> Any:
    """``mlflow.models.infer_signature(example, predictions)``, without its integer-column hint.

    For any integer feature, ``infer_signature`` warns "Hint: Inferred schema contains integer
    column(s)..." (a ``UserWarning``); MLflow's own ``catch_warnings`` blocks reset Python's
    once-per-location registry, so a sweep's log held one copy per model logged (142 in a 142-group
    build). The schema is inferred from ``example`` with integer columns as float64, then those
    columns get back the type MLflow infers for them: the same signature, and pyfunc still accepts
    the integer rows the model was trained on (it refuses int64 rows for a float64 column). A
    ``warnings.catch_warnings`` block around the call would do instead, but it swaps process-wide
    state, which dbt's model threads share.

    Returns
    -------
    mlflow.models.ModelSignature

    Examples
    --------
    >>> X = pd.DataFrame({"n": [1, 2], "small": pd.Series([1, 2], dtype="int32"), "x": [0.5, 1.0]})
    >>> quiet_signature(X, X["x"].to_numpy()).inputs.input_types()
    [long, integer, double]
    """
    from mlflow.models import infer_signature
    from mlflow.types import ColSpec, DataType, Schema

    integers = {
        c: example[c].dtype for c in example.columns if pd.api.types.is_integer_dtype(example[c])
    }
    signature = infer_signature(example.astype(dict.fromkeys(integers, "float64")), predictions)
    if not integers:
        return signature

    def integer_type(dtype: Any) -> DataType:  # mlflow.types.utils._infer_numpy_dtype's rule
        small = dtype.itemsize < 4 or (dtype.kind == "i" and dtype.itemsize == 4)
        return DataType.integer if small else DataType.long

    signature.inputs = Schema([
        ColSpec(integer_type(integers[c.name]), c.name, required=c.required) if c.name in integers else c
        for c in signature.inputs.inputs
    ])  # fmt: skip
    return signature


def signature_of(example: pd.DataFrame, predictions: Any) -> Any:
    """:func:`quiet_signature`, inferred once per schema of numbers.

    A signature depends on the example's column names, dtypes and nulls and the predictions' dtype
    and shape past the first axis only, when all are numbers or booleans (MLflow reads values for
    strings and objects only); a sweep logs many models of one schema, and inferring cost 1.3 ms a
    model. The returned signature is shared: read it, never change it.

    Examples
    --------
    >>> X = pd.DataFrame({"x": [0.5, 1.0]})
    >>> signature_of(X, X["x"].to_numpy()) is signature_of(X * 2, X["x"].to_numpy() * 2)
    True
    """
    key = _signature_key(example, predictions)
    if key is None:
        return quiet_signature(example, predictions)
    signature = _SIGNATURES.get(key)
    if signature is None:
        if len(_SIGNATURES) >= _MAX_SIGNATURES:
            _SIGNATURES.clear()
        signature = _SIGNATURES[key] = quiet_signature(example, predictions)
    return signature


def _signature_key(example: pd.DataFrame, predictions: Any) -> tuple[Any, ...] | None:
    """What a signature of numbers depends on, or None when MLflow would read values."""

    def numbers(dtype: Any) -> bool:
        return isinstance(dtype, np.dtype) and dtype.kind in "biuf"

    if not isinstance(predictions, np.ndarray) or not numbers(predictions.dtype):
        return None
    if not all(numbers(dtype) for dtype in example.dtypes):
        return None
    columns = tuple(zip(map(str, example.columns), (d.str for d in example.dtypes), strict=True))
    nulls = tuple(example.isna().any().tolist())
    return columns, nulls, predictions.dtype.str, predictions.shape[1:]


def _write_mlmodel(mlflow_model: Any, path: Path) -> None:
    """``Model.save``: the same YAML, through libyaml's emitter when PyYAML has it (MLflow's
    ``safe_dump`` takes the pure-Python one, 1.5 ms a model)."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", None)
    if dumper is None:
        mlflow_model.save(str(path))
        return
    with path.open("w") as out:
        yaml.dump(mlflow_model.to_dict(), out, Dumper=dumper, default_flow_style=False)


def write_model_dir(
    path: Path,
    blob: bytes,
    *,
    model_id: str,
    artifact_location: str,
    run_id: str,
    example: pd.DataFrame,
    allowed_modules: tuple[str, ...] = ("sklearn.",),
) -> None:
    """Write the directory ``mlflow.sklearn.save_model`` would write, with ``blob`` as ``model.skops``.

    Parameters
    ----------
    path : Path
        The folder to write (created when missing).
    blob : bytes
        The fitted pipeline's skops bytes, written unchanged; loaded once to infer the signature.
    model_id, artifact_location, run_id : str
        The logged model's id and artifact location, and the run it is an output of (``MLmodel``).
    example : DataFrame
        A few feature rows: the input example and, with the predictions, the signature
        (:func:`signature_of`).
    allowed_modules : tuple of str, default=("sklearn.",)
        The spec's estimator module prefixes (see :func:`_load_trusted`).

    Raises
    ------
    UntrustedModelError
        ``blob`` holds a type dbt-sweep does not trust.
    """
    import sklearn
    from mlflow import pyfunc
    from mlflow.models import Model
    from mlflow.models.utils import _save_example

    model, trusted = _load_trusted(blob, allowed_modules)
    path.mkdir(parents=True, exist_ok=True)
    mlflow_model = Model(
        artifact_path=artifact_location, model_uuid=model_id, run_id=run_id, model_id=model_id
    )
    _save_example(mlflow_model, example, str(path))
    mlflow_model.signature = signature_of(example, model.predict(example))
    (path / _SKOPS_FILE).write_bytes(blob)
    for name, content in environment_files().items():
        (path / name).write_bytes(content)
    pyfunc.add_to_model(
        mlflow_model, loader_module="mlflow.sklearn", model_path=_SKOPS_FILE, conda_env=_ENV_FILES[0],
        python_env=_ENV_FILES[1], code=None, predict_fn="predict",
    )  # fmt: skip
    mlflow_model.add_flavor(
        "sklearn", pickled_model=_SKOPS_FILE, sklearn_version=sklearn.__version__,
        serialization_format="skops", code=None, skops_trusted_types=trusted,
    )  # fmt: skip
    mlflow_model.model_size_bytes = sum(f.stat().st_size for f in path.iterdir())
    _write_mlmodel(mlflow_model, path / "MLmodel")
