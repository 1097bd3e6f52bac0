"""The five files of one sweep, as text: two thin Python models, two SQL models and their YAML.

The Python models are the demo's (``python_models/sweep_manifest.py``, ``sweep_runs.py``): one call
into :mod:`dbt_sweep.models` each, the runs model incremental (it passes the current table and the
``sweep_retry`` setting). The SQL models call the package's macros through its namespace
(``sweep.sweep_best_models``, ``sweep.sweep_trials``); the YAML declares the spec once, under an
anchor both Python models share, with each model's grain and tests.
"""

from __future__ import annotations

from string import Template

from dbt_sweep.scaffold.options import SweepOptions
from dbt_sweep.scaffold.spec import spec_yaml

__all__ = ["sweep_files"]

_MANIFEST_PY = Template("""\
import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("$source")
    return dbt_sweep.models.sweep_manifest(features, spec, model=dbt.this.identifier)
""")

_RUNS_PY = Template("""\
import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("$source")
    manifest = dbt.ref("${name}_manifest")
    previous = session.table(str(dbt.this)) if dbt.is_incremental else None
    return dbt_sweep.models.sweep_runs(
        features,
        manifest,
        spec,
        model=dbt.this.identifier,
        previous=previous,
        retry=dbt.config.get("sweep_retry"),
    )
""")

_BEST_MODELS_SQL = Template("""\
-- One row per group of the $name sweep: its best ok run by the primary metric.
{{ sweep.sweep_best_models(ref('${name}_runs'), group_by=$group_by) }}
""")

_TRIALS_SQL = Template("""\
-- One row per trial of the $name sweep's search runs (grid runs have none).
{{ sweep.sweep_trials(ref('${name}_runs'), group_by=$group_by) }}
""")

_SCHEMA_YML = Template("""\
version: 2

# The $name sweep, written by `python -m dbt_sweep new`. Its spec is declared once (the YAML
# anchor &${name}_sweep) and shared by the manifest and runs models: edit it here, then
#   dbt build -s +${name}_best_models

models:
  - name: ${name}_manifest
    description: >
      One row per training run of the $name sweep: $grain x estimator x hyperparameter
      combination, expanded from the sweep spec. Carries no data, only the group's row count and
      a fingerprint of its training columns.
    config:
      sweep: &${name}_sweep
$spec\
    columns:
      - name: run_key
        description: The run's identity, a hash of its group, estimator and parameters.
        data_tests:
          - not_null
          - unique
$group_columns\
    data_tests:
      - sweep.unique_combination_of_columns:
          arguments:
            combination_of_columns: $group_key

  - name: ${name}_runs
    description: >
      One row per ${name}_manifest row: the trained and scored model (skops bytes in `model`) or
      the reason it failed or was skipped. Incremental: a build retrains only the runs whose
      data, spec or library versions changed (dbt build --vars '{sweep_retry: failed}' retries
      the failed ones).
    config:
      sweep: *${name}_sweep
      materialized: incremental
      incremental_strategy: insert_overwrite
      on_schema_change: fail
      sweep_retry: "{{ var('sweep_retry', '') }}"
    columns:
      - name: run_key
        description: The run's identity, its row of ${name}_manifest.
        data_tests:
          - not_null
          - unique
          - relationships:
              arguments:
                to: ref('${name}_manifest')
                field: run_key
      - name: status
        description: "`ok` (trained and scored), `failed` (see `error`) or `skipped` (too few rows)."
        data_tests:
          - not_null
          - accepted_values:
              arguments:
                values: ['ok', 'failed', 'skipped']
    data_tests:
      - sweep.row_count_equals:
          arguments:
            compare_model: ref('${name}_manifest')
      # Fails the build when a run fails; raise it if some groups are expected to fail.
      - sweep.sweep_failure_rate:
          arguments:
            max_failure_rate: 0

  - name: ${name}_best_models
    description: >
      One row per $grain_one: the ok run of ${name}_runs with the best primary metric
      (ties to the smallest run_key), with its model bytes.
    config:
      materialized: table
    columns:
      - name: run_key
        description: The winning run of ${name}_runs.
        data_tests:
          - not_null
          - unique
          - relationships:
              arguments:
                to: ref('${name}_runs')
                field: run_key
$best_group_columns\
    data_tests:
      - sweep.one_best_model_per_group:
          arguments:
            group_by: $group_by
            runs: ref('${name}_runs')

  - name: ${name}_trials
    description: >
      One row per trial of the $name sweep's search runs (`search: random` or `optuna`): its
      parameters, score and state. Grid runs have no trials.
    config:
      materialized: table
    data_tests:
      - sweep.unique_combination_of_columns:
          arguments:
            combination_of_columns: [run_key, trial_number]
""")


def _flow(columns: tuple[str, ...] | list[str]) -> str:
    """``['a', 'b']`` as a YAML and Jinja flow list of quoted names."""
    return "[" + ", ".join(f"'{column}'" for column in columns) + "]"


def _group_columns(options: SweepOptions, *, unique: bool) -> str:
    """The YAML column entries of the group columns, not null (and unique when ``unique``)."""
    tests = "[not_null, unique]" if unique else "[not_null]"
    return "".join(
        f"      - name: {column}\n"
        f"        description: The group's {column} (a group_by column of the spec).\n"
        f"        data_tests: {tests}\n"
        for column in options.group_by
    )


def sweep_files(options: SweepOptions) -> dict[str, str]:
    """The files of one sweep: file name -> text, for the project's model folder.

    Parameters
    ----------
    options : SweepOptions

    Returns
    -------
    dict of str to str
        ``<name>_manifest.py``, ``<name>_runs.py``, ``<name>_best_models.sql``,
        ``<name>_trials.sql`` and ``_<name>__models.yml``.

    Examples
    --------
    >>> from dbt_sweep.scaffold.options import sweep_options
    >>> options = sweep_options("sales", source="feat_sales", group_by=["store"], key="row_id",
    ...                         target="amount", task="regression")
    >>> sorted(sweep_files(options))  # doctest: +NORMALIZE_WHITESPACE
    ['_sales__models.yml', 'sales_best_models.sql', 'sales_manifest.py', 'sales_runs.py',
     'sales_trials.sql']
    """
    name, group_by = options.name, list(options.group_by)
    single = len(group_by) == 1
    grain = " x ".join(group_by)
    values = {
        "name": name,
        "source": options.source,
        "group_by": _flow(group_by),
        "group_key": _flow([*group_by, "run_key"]),
        "grain": grain,
        "grain_one": group_by[0] if single else f"group ({', '.join(group_by)})",
        "spec": spec_yaml(options, indent=8),
        "group_columns": _group_columns(options, unique=False),
        "best_group_columns": _group_columns(options, unique=single),
    }
    return {
        f"{name}_manifest.py": _MANIFEST_PY.substitute(values),
        f"{name}_runs.py": _RUNS_PY.substitute(values),
        f"{name}_best_models.sql": _BEST_MODELS_SQL.substitute(values),
        f"{name}_trials.sql": _TRIALS_SQL.substitute(values),
        f"_{name}__models.yml": _SCHEMA_YML.substitute(values),
    }
