"""What a Spark worker needs to log into an experiment the driver prepared: plain data and names.

:class:`TrackingContext` is pickled into the training closure, so it holds only plain data (no
client, no spec). The identity rule of a child run (:func:`run_identity`) and the tags that mark a
sweep's runs live here, at the bottom of the subpackage, because the driver and the workers both
read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "HAS_MODEL_TAG",
    "MODEL_TAG",
    "TRAINED_WITH_TAG",
    "TrackingContext",
    "outcome_of",
    "run_identity",
]

#: Every run of a sweep carries the dbt model's name; :func:`start_tracking` searches by it.
MODEL_TAG = "dbt_sweep.model"
#: A child run whose model is logged (a reused run keeps it, so its model is not logged again).
HAS_MODEL_TAG = "dbt_sweep.has_model"


#: The tag holding the build's ``trained_with`` on each child run (part of its identity).
TRAINED_WITH_TAG = "dbt_sweep.trained_with"


def run_identity(run_key: str, data_fingerprint: str, outcome: str = "") -> str:
    """The identity of a child run across builds: same run on the same data with the same outcome,
    same MLflow run. A rebuild whose outcome changed (a run now ``skipped`` after ``min_rows`` rose)
    is logged as a new run, not linked to the earlier one (issue 17).

    Parameters
    ----------
    run_key : str
        The manifest's key of the run (estimator, parameters, group).
    data_fingerprint : str
        The manifest's fingerprint of the group's data.
    outcome : str, default=""
        The run's status and what it was trained with (:func:`outcome_of`).

    Returns
    -------
    str
        The key of :attr:`TrackingContext.existing`.

    Examples
    --------
    >>> run_identity("k1", "f1", outcome_of("ok", "v1"))
    'k1:f1:ok; v1'
    """
    return f"{run_key}:{data_fingerprint}:{outcome}"


def outcome_of(status: str, trained_with: str) -> str:
    """What a child run's outcome depends on beyond its run and data: its status and the build's
    ``trained_with`` (versions, primary metric, ``store_models``, ``min_rows``, ``refit``)."""
    return f"{status}; {trained_with}"


@dataclass(frozen=True)
class TrackingContext:
    """What a worker needs to log into a prepared experiment; plain data, pickled into the closure.

    Parameters
    ----------
    uri : str
        The tracking URI (never resolved again on workers: their working directory differs).
    experiment_id, experiment, artifact_location : str
        The experiment the driver created or found, and its artifact root.
    parent_run_id : str
        The dbt invocation's parent run.
    level : {"runs", "groups", "sweep"}
    log_models : {"best", "all", "none"}
    register : bool
    on_error : {"fail", "warn"}
    group_by, metrics : sequence of str
        The spec's group columns and metric columns.
    common_tags : mapping of str to str
        Tags every child run gets (model, dbt invocation id).
    existing : mapping of str to tuple of (str, bool)
        ``run_key:data_fingerprint`` -> (run id, has a logged model) of FINISHED child runs of
        earlier builds, from one search on the driver (empty with ``rerun: true``).
    primary_direction : {"minimize", "maximize"}, default="minimize"
        How the primary metric ranks runs (which run of a group wins).
    allowed_modules : sequence of str, default=("sklearn.",)
        The spec's estimator module prefixes: the estimator classes a logged model may hold.
    trained_with : str, default=""
        The build's ``sweep_runs.trained_with``: part of a child run's identity.
    whole_groups : bool, default=False
        Every work unit is a whole group (no shards): a unit sees all runs of its group, so the
        worker can log the group's winner model itself, overlapped with training (see
        :attr:`models_on_workers`).

    Examples
    --------
    >>> ctx = TrackingContext("sqlite:///m.db", "1", "e", "/a", "p", "runs", "best", False, "fail",
    ...     ["g"], ["rmse"], existing={"k1:f1:ok; v1": ("r1", True)}, trained_with="v1")
    >>> ctx.earlier_run("k1", "f1", "ok"), ctx.earlier_run("k1", "f1", "skipped")
    (('r1', True), None)
    """

    uri: str
    experiment_id: str
    experiment: str
    artifact_location: str
    parent_run_id: str
    level: str
    log_models: str
    register: bool
    on_error: str
    group_by: Sequence[str]
    metrics: Sequence[str]
    common_tags: Mapping[str, str] = field(default_factory=dict)
    existing: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    primary_direction: str = "minimize"
    whole_groups: bool = False
    allowed_modules: Sequence[str] = ("sklearn.",)
    trained_with: str = ""

    @property
    def models_on_workers(self) -> bool:
        """Whether Spark workers log the models, overlapped with training, instead of the driver
        after it. Workers see one unit: they know its winner only when the unit is a whole group
        (``log_models: best``, or ``all`` with ``register: true``, which registers winners). The
        driver logs everything at ``level: groups``, whose group runs exist only after training."""
        if self.log_models == "none" or self.level == "groups":
            return False
        return self.whole_groups or (self.log_models == "all" and not self.register)

    @property
    def logs_on_workers(self) -> bool:
        """Whether the training closure calls :func:`~dbt_sweep.tracking.track_unit` at all."""
        return self.level == "runs" or self.models_on_workers

    def earlier_run(
        self, run_key: str, data_fingerprint: str, status: str = ""
    ) -> tuple[str, bool] | None:
        """The FINISHED child run an earlier build logged for this identity, as (run id, has a
        model), or None when this build logs the run (a new identity, or ``rerun: true``)."""
        outcome = outcome_of(status, self.trained_with)
        return self.existing.get(run_identity(run_key, data_fingerprint, outcome))
