"""Model bytes for tables: skops, never pickle.

Loading a pickle read from a table executes whatever code it names; skops only
builds objects of types the caller trusts. See DESIGN.md, "Why these choices".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import skops.io as sio

from dbt_sweep.exceptions import UntrustedModelError

__all__ = ["dump_model", "load_model"]

DEFAULT_ALLOWED_MODULES = ("sklearn.", "numpy.", "scipy.")


def dump_model(obj: Any) -> bytes:
    """Serialise a fitted estimator or pipeline to skops bytes.

    Parameters
    ----------
    obj : object
        The fitted model.

    Returns
    -------
    bytes
    """
    return sio.dumps(obj)


def load_model(data: bytes, *, allowed_modules: Sequence[str] = DEFAULT_ALLOWED_MODULES) -> Any:
    """Load skops bytes, trusting only types from ``allowed_modules``.

    Parameters
    ----------
    data : bytes
        Output of :func:`dump_model`.
    allowed_modules : sequence of str, default=("sklearn.", "numpy.", "scipy.")
        Module prefixes whose types skops may build, beyond its default trusted set.

    Returns
    -------
    object
        The loaded model.

    Raises
    ------
    UntrustedModelError
        If the blob holds any type outside ``allowed_modules``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> model = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    >>> load_model(dump_model(model)).predict([[2.0]])
    array([4.])
    """
    untrusted = sio.get_untrusted_types(data=data)
    offending = [name for name in untrusted if not name.startswith(tuple(allowed_modules))]
    if offending:
        raise UntrustedModelError(offending, allowed_modules)
    return sio.loads(data, trusted=untrusted)
