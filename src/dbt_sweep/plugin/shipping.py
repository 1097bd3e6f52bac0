"""Ship the ``dbt_sweep`` package to where Spark runs Python: executors of a cluster, the Python
workers of a Spark Connect server.

Training (:func:`dbt_sweep.training.unit.train_unit`) and scoring (:func:`dbt_sweep.scoring.predict.score_unit`) run in
Spark's Python workers, which unpickle references to ``dbt_sweep`` modules and so must import them.
On ``local[*]`` the workers run the driver's interpreter and see its environment; elsewhere they
run the cluster's Python. :func:`ship_package` zips the installed package once per process and adds
it to the session:

- classic Spark with a non-local master: ``SparkContext.addPyFile`` (once per SparkContext); every
  executor puts the zip on its Python workers' ``sys.path``;
- Spark Connect: ``SparkSession.addArtifacts(..., pyfile=True)`` (once per Connect session); the
  server puts it on the ``sys.path`` of that session's Python workers.

Only ``dbt_sweep`` itself is shipped. Its dependencies (pandas, pyarrow, scikit-learn, skops, and
mlflow when tracking logs from the workers) must be installed on the workers. The alternative is a
cluster-wide install of dbt-sweep on every worker (cluster libraries, an image, a bootstrap
script); then set ``DBT_SWEEP_SHIP_PACKAGE=never`` to skip shipping.

``DBT_SWEEP_SHIP_PACKAGE``: ``auto`` (default: ship to non-local masters and Connect), ``always``
(also to ``local`` masters), ``never``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import zipfile
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.utils import is_remote

from dbt_sweep.log import get_logger

__all__ = ["ENV_VAR", "package_zip", "ship_package"]

ENV_VAR = "DBT_SWEEP_SHIP_PACKAGE"
_MODES = ("auto", "always", "never")
_lock = threading.Lock()
# Held across check, ship and record: dbt runs models (and seeds) in threads, and two threads
# adding the same artifact to one Connect session make the server fail with FileAlreadyExistsException.
_ship_lock = threading.Lock()
_zip_path: Path | None = None
_shipped: set[str] = set()  # SparkContext application ids / Connect session ids already served


def package_zip() -> Path:
    """A zip of the installed ``dbt_sweep`` package (its ``.py`` files), built once per process.

    The file name carries a hash of the content, so a changed package never collides with a zip a
    long-lived cluster or Connect session already holds under the same name.
    """
    global _zip_path
    with _lock:
        if _zip_path is not None and _zip_path.exists():
            return _zip_path
        package = Path(__file__).resolve().parents[1]  # dbt_sweep/, not this subpackage
        files = sorted(
            path
            for path in package.rglob("*")
            if path.is_file()
            and path.suffix in (".py", ".typed")
            and "__pycache__" not in path.parts
        )
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.relative_to(package.parent)).encode())
            digest.update(path.read_bytes())
        folder = Path(tempfile.mkdtemp(prefix="dbt-sweep-ship-"))
        target = folder / f"dbt_sweep_{digest.hexdigest()[:12]}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, str(path.relative_to(package.parent)))
        _zip_path = target
        return target


def _mode() -> str:
    mode = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise ValueError(f"{ENV_VAR} must be one of {', '.join(_MODES)}. Got {mode!r} instead.")
    return mode


def ship_package(spark: SparkSession) -> bool:
    """Make ``dbt_sweep`` importable by ``spark``'s Python workers; True when it shipped now.

    Idempotent and cheap after the first call per SparkContext / Connect session.
    """
    mode = _mode()
    if mode == "never":
        return False
    if is_remote():
        key = f"connect:{spark.session_id}"
    else:
        # Classic-only (guarded by is_remote() above): addPyFile is a SparkContext API.
        context = spark.sparkContext
        if mode == "auto" and context.master.startswith("local"):
            return False  # local workers run this interpreter, which imports dbt_sweep already
        key = f"classic:{context.applicationId}"
    with _ship_lock:
        if key in _shipped:
            return False
        path = package_zip()
        if is_remote():
            spark.addArtifacts(str(path), pyfile=True)
        else:
            spark.sparkContext.addPyFile(str(path))  # classic-only, see above
        _shipped.add(key)
    get_logger().info(
        f"dbt-sweep: shipped {path.name} to the Spark Python workers ({key.split(':')[0]})"
    )
    return True
