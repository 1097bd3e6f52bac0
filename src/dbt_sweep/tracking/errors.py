"""The ``sweep.tracking.on_error`` rule, in one place for the driver and the workers.

Tracking never decides whether a build succeeds unless the user asked it to: with ``on_error: fail``
(the default) a tracking failure raises :class:`~dbt_sweep.exceptions.TrackingError`, with ``warn``
it is logged and the sweep trains and materialises without tracking.
"""

from __future__ import annotations

from dbt_sweep.exceptions import TrackingError

__all__ = ["handle_error"]


def handle_error(
    exc: BaseException, *, uri: str, action: str, model: str, on_error: str, then: str
) -> None:
    """Raise ``exc`` as a :class:`~dbt_sweep.exceptions.TrackingError`, or log it as a warning.

    Parameters
    ----------
    exc : BaseException
        What failed.
    uri : str
        The tracking URI.
    action : str
        What was being done, e.g. ``"logging the sweep's results"``.
    model : str
        The dbt model whose sweep is tracked.
    on_error : {"fail", "warn"}
        ``sweep.tracking.on_error``.
    then : str
        The sentence after the error in the warning: what happens without tracking.

    Raises
    ------
    TrackingError
        ``on_error`` is ``fail``.

    Examples
    --------
    >>> handle_error(OSError("down"), uri="http://h", action="probing", model="m", on_error="fail",
    ...     then="")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dbt_sweep.exceptions.TrackingError: MLflow tracking for model 'm' failed at tracking URI 'http://h' while probing: OSError: down. ...
    """
    error = TrackingError(uri, action, exc, model=model)
    if on_error == "fail":
        raise error from exc
    # imported here: dbt's logger costs an import a Spark worker pays only when something failed
    from dbt_sweep.log import get_logger

    get_logger().warning(f"{error} {then}")
