"""The starter sweep spec ``new`` writes, as commented YAML, and the check that it parses.

The spec is YAML text, not a dumped mapping, so that it keeps its comments and the anchor its
manifest and runs models share. :func:`check_schema` reads the whole generated YAML file back and
validates each model's spec with :func:`dbt_sweep.spec.parse_spec`, the function the build runs.
"""

from __future__ import annotations

from string import Template
from typing import Any

import yaml

from dbt_sweep.scaffold.options import SweepOptions

__all__ = ["check_schema", "spec_yaml"]

# Each task's estimators, preprocessing, split and metrics; `$indent` is the spec's indentation.
_ESTIMATORS = {
    "regression": """\
# A linear baseline and a small random-forest grid: 3 runs per group.
estimators:
  - name: linear_regression
    estimator: sklearn.linear_model.LinearRegression
  - name: random_forest
    estimator: sklearn.ensemble.RandomForestRegressor
    params: {n_estimators: 50, random_state: 0}
    grid:
      max_depth: [3, null]
""",
    "classification": """\
# A regularised linear baseline and a small random-forest grid: 4 runs per group.
estimators:
  - name: logistic_regression
    estimator: sklearn.linear_model.LogisticRegression
    params: {max_iter: 1000}
    grid:
      C: [0.1, 1.0]
  - name: random_forest
    estimator: sklearn.ensemble.RandomForestClassifier
    params: {n_estimators: 50, random_state: 0}
    grid:
      max_depth: [3, null]
""",
}

_METRICS = {
    "regression": "metrics: [rmse, mae, r2]\nprimary_metric: rmse   # the winner has the lowest\n",
    "classification": (
        "metrics: [roc_auc, accuracy, f1, log_loss]\n"
        "primary_metric: roc_auc   # the winner has the highest\n"
    ),
}

_SPLIT = {
    "regression": "split: {kind: random, test_size: 0.2, seed: 0}\n",
    "classification": "split: {kind: random, test_size: 0.2, seed: 0, stratify: true}\n",
}

_SPEC = Template("""\
source: $source
group_by: $group_by
key: $key
target: $target
task: $task
# Every other column of the source is a feature: list them instead (features: [a, b])
# or leave some out (features: {exclude: [c]}).
features: {exclude: []}
${estimators}\
# Missing values get the column's median, text columns are one-hot encoded and
# numbers are scaled.
preprocessing:
  impute: {strategy: median}
  one_hot: {columns: auto}
  scale: standard
# A fifth of each group's rows, drawn with a fixed seed, is held out to score the runs.
${split}\
${metrics}\
min_rows: 20   # a group with fewer rows is skipped (status 'skipped'), not trained
""")


def spec_yaml(options: SweepOptions, *, indent: int) -> str:
    """The starter spec of ``options`` as YAML lines indented by ``indent`` spaces.

    Parameters
    ----------
    options : SweepOptions
    indent : int
        Spaces before each line: the spec's depth in the models YAML file.

    Returns
    -------
    str
        The spec's keys, one or more lines each, ending with a newline.
    """
    text = _SPEC.substitute(
        source=options.source,
        group_by="[" + ", ".join(options.group_by) + "]",
        key=options.key,
        target=options.target,
        task=options.task,
        estimators=_ESTIMATORS[options.task],
        split=_SPLIT[options.task],
        metrics=_METRICS[options.task],
    )
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def check_schema(text: str) -> dict[str, Any]:
    """Validate every sweep spec of a models YAML file, as the build would.

    Parameters
    ----------
    text : str
        A dbt models YAML file (``version: 2``, ``models: [...]``).

    Returns
    -------
    dict of str to dict
        Model name -> its raw ``sweep`` config, for each model that has one.

    Raises
    ------
    dbt_sweep.exceptions.SweepSpecError
        The first spec that does not parse.
    """
    # Imported here: the spec package loads scikit-learn (its metric catalogue), ~2 s that `new
    # --help` and a usage error should not wait for.
    from dbt_sweep.spec import parse_spec

    specs = {
        model["name"]: model["config"]["sweep"]
        for model in yaml.safe_load(text)["models"]
        if "sweep" in model.get("config", {})
    }
    for name, raw in specs.items():
        parse_spec(raw, model=name)
    return specs
