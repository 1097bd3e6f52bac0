"""`python -m dbt_sweep contract`: the sweep tables' columns follow from the spec and the code that
writes each table, the demo's YAML is what the command writes, and a changed spec shows as drift.

The CLI tests parse a copy of the demo project with dbt (no Spark), so the repository's `target/`
is left alone and a spec can be changed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbt_sweep.cli import contract as contract_cli
from dbt_sweep.cli.project import parse_project, sweep_tables
from dbt_sweep.cli.yaml_columns import ColumnEntry, read_columns, replace_columns
from dbt_sweep.metrics import METRICS
from dbt_sweep.scoring.predict import ScoringSpec, prediction_columns
from dbt_sweep.spec import parse_spec
from dbt_sweep.spec.columns import RUN_COLUMNS
from dbt_sweep.spec.contract import contract_columns
from dbt_sweep.training import run_columns

from conftest import demo_copy, make_spec

REPO = Path(__file__).resolve().parents[2]
GROUPS = {"group_id": "string"}
#: The contract models the demo declares with `contract: {enforced: true}`.
DEMO_CONTRACTS = [
    "best_models",
    "diagnosis_best_models",
    "diagnosis_model_runs",
    "model_runs",
    "predictions",
]
DEMO_TABLES = sorted(
    [
        *DEMO_CONTRACTS,
        "best_model_history",
        "diagnosis_sweep_manifest",
        "diagnosis_sweep_runs",
        "sweep_manifest",
        "sweep_predictions",
        "sweep_runs",
        "sweep_trials",
    ]
)


def names(columns: Any) -> list[str]:
    return [column[0] for column in columns]


# ---------- the column lists against the code that writes each table


def test_runs_columns_are_training_columns_then_the_drivers():
    spec = make_spec()
    contract = contract_columns(spec, "runs", GROUPS)
    trained = run_columns(spec, GROUPS)
    assert [(c.name, c.data_type) for c in contract[: len(trained)]] == trained
    assert names(contract[len(trained) :]) == [
        "primary_metric_name", "primary_direction", "mlflow_run_id", "dbt_invocation_id",
        "data_fingerprint", "trained_with",
    ]  # fmt: skip


def test_manifest_and_runs_columns_are_the_reserved_run_columns():
    """spec.columns.RUN_COLUMNS refuses group columns named like a column these tables write."""
    spec = make_spec()
    written = {
        c.name for kind in ("manifest", "runs") for c in contract_columns(spec, kind, GROUPS)
    }
    assert written - {"group_id", *spec.metrics} == RUN_COLUMNS


def test_manifest_columns_are_the_manifest_ddl():
    from dbt_sweep.spark.manifest import _MANIFEST_DDL

    ddl = [tuple(part.strip().split(" ", 1)) for part in _MANIFEST_DDL.split(",")]
    columns = contract_columns(make_spec(), "manifest", GROUPS)
    assert [(c.name, c.data_type) for c in columns[2:]] == [(n.strip("`"), t) for n, t in ddl]


@pytest.mark.parametrize(
    ("task", "probabilities"),
    [("regression", False), ("classification", True), ("classification", False)],
    ids=["regression", "classification-probabilities", "classification"],
)
def test_prediction_columns_are_scorings(task, probabilities):
    spec = make_spec() if task == "regression" else _classification_spec()
    scoring = ScoringSpec.model_validate(
        {"source": "rows", "partition_by": "day", "probabilities": probabilities}
    )
    types = {spec.key: "bigint", **GROUPS, "day": "date"}
    expected = prediction_columns(
        spec, scoring, key_types={spec.key: "bigint", **GROUPS}, partition_type="date"
    )
    got = contract_columns(
        spec, "predictions", types, partition_by="day", probabilities=probabilities
    )
    assert [(c.name, c.data_type) for c in got] == expected


@pytest.mark.parametrize(
    ("kind", "macro"),
    [
        ("best_models", "sweep_best_models"),
        ("trials", "sweep_trials"),
        ("history", "sweep_winner_history"),
    ],
)
def test_macro_tables_have_the_macros_columns(kind, macro):
    """The columns a macro selects, in order (`{{ column }}` is each group column)."""
    text = (REPO / "macros" / f"{macro}.sql").read_text()
    select = text[text.rindex("\nselect") :]
    if kind == "history":
        select = text[text.index("recorded as (") :]
    selected = []
    for line in select.splitlines()[1:]:
        line = line.strip().rstrip(",")
        if line.startswith("from "):
            break
        if line == "{{ column }}":
            selected.append("group_id")
        elif line and not line.startswith(("{%", "select")):
            selected.append(line.split(" as ")[-1].strip())
    assert names(contract_columns(make_spec(), kind, GROUPS)) == selected


def test_trials_types_are_the_macros_struct():
    text = (REPO / "macros" / "sweep_trials.sql").read_text()
    fields = dict(re.findall(r"'(\w+): (\w+)'", text))
    columns = {c.name: c.data_type for c in contract_columns(make_spec(), "trials", GROUPS)}
    assert {("trial_number" if n == "number" else n): t for n, t in fields.items()} == {
        n: t for n, t in columns.items() if n not in ("run_key", "group_id", "estimator_name")
    }


def test_every_column_doc_block_exists():
    docs = set(re.findall(r"{%\s*docs\s+(\w+)\s*%}", (REPO / "models" / "docs.md").read_text()))
    spec, clf = make_spec(), _classification_spec()
    used = {
        c.doc
        for kind in ("manifest", "runs", "best_models", "history", "trials")
        for s in (spec, clf)
        for c in contract_columns(s, kind, GROUPS)
    }
    used |= {
        c.doc
        for c in contract_columns(
            clf,
            "predictions",
            {"row_id": "bigint", **GROUPS, "day": "date"},
            partition_by="day",
            probabilities=True,
        )  # fmt: skip
    }
    used |= {f"metric_{name}" for name in METRICS}
    assert used - docs == set()


def test_a_predictions_table_needs_the_key():
    with pytest.raises(ValueError, match=r"The 'sweep.key' key of the sweep spec in model 'm'"):
        contract_columns(make_spec(key=None), "predictions", GROUPS, model="m")


def _classification_spec():
    return parse_spec(
        {
            "source": "feat",
            "group_by": "group_id",
            "key": "row_id",
            "target": "label",
            "task": "classification",
            "estimators": [{"estimator": "sklearn.linear_model.LogisticRegression"}],
        },
        model="m",
    )


# ---------- rewriting one columns block

YAML_TEXT = """\
version: 2
models:
  - name: a
    config:
      sweep: &shared   # a comment
        x: 1
    columns:
      - name: old
        description: gone
      - name: k
        description: plain text
        constraints:
          - type: not_null
        data_tests:
          - not_null   # keep me
          - accepted_values:
              arguments:
                values: ['ok']

    data_tests:
      - row_count_equals: {arguments: {compare_model: ref('b')}}
  - name: b
    config:
      sweep: *shared
"""


def test_replace_keeps_other_keys_comments_and_the_rest_of_the_file():
    columns = [
        ColumnEntry(
            "k", "string", "{{ doc('run_key') }}", read_columns(YAML_TEXT, "a").columns[1].kept
        ),
        ColumnEntry("v", "double", "{{ doc('metric_rmse') }}"),
    ]
    new = replace_columns(YAML_TEXT, "a", columns)
    assert new.replace(new[new.index("    columns:") : new.index("\n\n    data_tests")], "") == (
        YAML_TEXT.replace(
            YAML_TEXT[YAML_TEXT.index("    columns:") : YAML_TEXT.index("\n\n    data_tests")], ""
        )
    )
    assert "          - not_null   # keep me\n" in new
    parsed = yaml.safe_load(new)["models"][0]["columns"]
    assert parsed[0]["constraints"] == [{"type": "not_null"}]
    assert parsed[0]["data_tests"][1] == {"accepted_values": {"arguments": {"values": ["ok"]}}}
    assert [(c["name"], c["data_type"], c["description"]) for c in parsed] == [
        ("k", "string", "{{ doc('run_key') }}"), ("v", "double", "{{ doc('metric_rmse') }}"),
    ]  # fmt: skip
    assert replace_columns(new, "a", read_columns(new, "a").columns) == new


def test_replace_adds_a_columns_block_to_a_model_without_one():
    new = replace_columns(YAML_TEXT, "b", [ColumnEntry("k", "string", "{{ doc('run_key') }}")])
    assert yaml.safe_load(new)["models"][1]["columns"] == [
        {"name": "k", "data_type": "string", "description": "{{ doc('run_key') }}"}
    ]
    assert yaml.safe_load(new)["models"][1]["config"]["sweep"] == {"x": 1}


# ---------- the command on the demo project


def cli(project: Path, *args: str) -> list[str]:
    return [*args, "--project-dir", str(project), "--profiles-dir", str(project)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    project = demo_copy(tmp_path_factory.mktemp("demo"))
    return project, parse_project(cli(project, "--quiet"))


def test_the_demos_sweep_tables_are_found(demo):
    _, manifest = demo
    assert sorted(table.name for table in sweep_tables(manifest)) == DEMO_TABLES


@pytest.mark.parametrize("model", DEMO_TABLES)
def test_the_demos_yaml_is_what_the_command_writes(demo, model):
    project, manifest = demo
    table = next(t for t in sweep_tables(manifest) if t.name == model)
    text = table.yaml_path(project).read_text()
    current = read_columns(text, model).columns
    wanted = contract_cli.expected_columns(table, manifest, current)
    assert contract_cli.drift(current, wanted) == []
    assert replace_columns(text, model, wanted) == text


def test_contract_check_passes_on_the_demo(demo, capsys):
    project, _ = demo
    assert contract_cli.main(cli(project, "--check")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "12 contract(s) match their sweep spec."


def test_a_changed_metric_is_drift_until_the_contract_is_rewritten(tmp_path, capsys):
    project = demo_copy(tmp_path)
    specs = project / "python_models" / "_python_models__models.yml"
    text = specs.read_text()
    specs.write_text(text.replace("metrics: [rmse, mae, r2, mape]", "metrics: [rmse, mae]", 1))
    assert contract_cli.main(cli(project, "--check", "model_runs")) == 1
    out = capsys.readouterr().out.splitlines()
    marts = "models/marts/_marts__models.yml"
    assert out == [
        f"model_runs ({marts}): column 'r2' is not a column of the table",
        f"model_runs ({marts}): column 'mape' is not a column of the table",
        "1 contract(s) differ from their sweep spec. Run "
        "`python -m dbt_sweep contract model_runs` to rewrite them.",
    ]
    assert contract_cli.main(cli(project, "model_runs")) == 0
    assert capsys.readouterr().out == f"model_runs: wrote 25 columns to {marts}\n"
    assert contract_cli.main(cli(project, "--check", "model_runs")) == 0
    model_runs = next(
        m
        for m in yaml.safe_load((project / marts).read_text())["models"]
        if m["name"] == "model_runs"
    )
    run_key = model_runs["columns"][0]
    assert run_key["constraints"] == [{"type": "not_null"}]  # kept
    assert run_key["data_tests"] == ["not_null", "unique"]  # kept


def test_an_unknown_model_is_a_message_not_a_traceback(demo, capsys):
    project, _ = demo
    assert contract_cli.main(cli(project, "feat_demo_regression")) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "dbt_sweep contract: 'feat_demo_regression' is not a sweep table of the project"
    )
    assert "Sweep tables: ['best_model_history', 'best_models'," in err
