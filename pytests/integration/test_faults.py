"""Issue 17's fault matrix as real dbt builds: each fault that once passed silently, crashed or ran
code now fails with its own message, or trains as it should.

Two projects, one `dbt build` each (plus one follow-up command), many small sweeps side by side:

- ``TestInputFaultsFailFast``: duplicate and null keys, a group column named ``status``, a
  ``primary_metric`` outside ``metrics``, a rewritten manifest row naming ``subprocess.getoutput``
  (nothing runs), and a sweep whose every run is ``skipped`` (the default ``sweep_failure_rate``
  gate fails);
- ``TestOddInputTrains``: a ``decimal(12,4)`` feature trains, is tracked in MLflow and predicts; a
  feature named ``shard`` trains as a feature; building the same sweep again gives the same table,
  model bytes included.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from dbt.tests.util import run_dbt, run_dbt_and_capture
from mlflow import MlflowClient

from dbt_sweep.spec.columns import RUN_COLUMNS
from dbt_sweep.training.serialize import load_model

from projects import (
    INCREMENTAL_RUNS,
    INCREMENTAL_RUNS_PY,
    ParquetProject,
    manifest_py,
    predictions_py,
    runs_py,
    sales_csv,
    sales_spec,
    table,
)

pytestmark = pytest.mark.integration

# Every sweep here: 3 stores x 40 rows of `sales`, one Ridge grid of 2 points: 6 runs.
SPEC = sales_spec("""\
estimators:
  - estimator: sklearn.linear_model.Ridge
    grid: {alpha: [0.1, 10.0]}
metrics: [rmse, mae]
tracking: {enabled: false}
""")


def _sweeps(models: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """``<name>.py`` per model and one ``schema.yml``: name -> (Python text, YAML entry without the
    name, e.g. ``{"config": {"sweep": ...}, "data_tests": [...]}``)."""
    files = {f"{name}.py": text for name, (text, _) in models.items()}
    entries = [{"name": name, **entry} for name, (_, entry) in models.items()]
    files["schema.yml"] = yaml.safe_dump(
        {"version": 2, "models": entries}, sort_keys=False, default_flow_style=None
    )
    return files


def _manifest(more: str = "", **config: Any) -> tuple[str, dict[str, Any]]:
    spec = {**SPEC, **yaml.safe_load(more or "{}")}
    return manifest_py(spec["source"]), {"config": {"sweep": spec, **config}}


def _runs(manifest: str, more: str = "", py: str | None = None, **entry: Any) -> tuple[str, dict]:
    spec = {**SPEC, **yaml.safe_load(more or "{}")}
    source = spec["source"]
    text = py.format(source=source, manifest=manifest) if py else runs_py(source, manifest)
    config = {"sweep": spec, **entry.pop("config", {})}
    return text, {"config": config, **entry}


def _by_name(results) -> dict[str, Any]:
    return {r.node.name: r for r in results}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("run_key", ignore_index=True)


# ---------- faults that must stop the build, each with its own message


# Two stores repeat one key each; s1's row_id 3 is the first repeat in (group, key) order.
FEAT_DUP = """\
select * from {{ ref('sales') }}
union all
select * from {{ ref('sales') }} where (store = 's1' and row_id = 3) or (store = 's2' and row_id = 5)
"""
FEAT_NULL = """\
select store, case when store = 's2' and row_id < 2 then null else row_id end as row_id, a, b, t
from {{ ref('sales') }}
"""
FEAT_STATUS = "select store as status, row_id, a, b, t from {{ ref('sales') }}"
# The built manifest with one row rewritten, as anyone who can write the table could: estimator
# `subprocess.getoutput` with params {"cmd": "touch <marker>"} runs a shell command if imported.
TAMPERED_MANIFEST = """\
{{ config(materialized='table') }}
with manifest as (
    select *, row_number() over (order by run_key) as row_n from {{ ref('sales_manifest') }}
)
select
    run_key, store, estimator_name,
    case when row_n = 1 then 'subprocess.getoutput' else estimator end as estimator,
    case when row_n = 1 then '{"cmd": "touch MARKER"}' else params end as params,
    search, shard, n_rows, data_fingerprint, est_cost, spec_hash
from manifest
"""


class TestInputFaultsFailFast(ParquetProject):
    """One `dbt build` of seven small sweeps, four of which must fail and one whose test must."""

    @pytest.fixture(scope="class")
    def marker(self, tmp_path_factory) -> Path:
        """The file the tampered manifest row would create, had its command run."""
        return tmp_path_factory.mktemp("tampered") / "code_ran"

    @pytest.fixture(scope="class")
    def seeds(self):
        return {"sales.csv": sales_csv()}

    @pytest.fixture(scope="class")
    def models(self, marker):
        return {
            "feat_dup.sql": FEAT_DUP,
            "feat_null.sql": FEAT_NULL,
            "feat_status.sql": FEAT_STATUS,
            "tampered_manifest.sql": TAMPERED_MANIFEST.replace("MARKER", str(marker)),
            **_sweeps(
                {
                    "dup_manifest": _manifest("source: feat_dup"),
                    "null_manifest": _manifest("source: feat_null"),
                    "status_manifest": _manifest("{source: feat_status, group_by: status}"),
                    "primary_manifest": _manifest("{metrics: [rmse, mae], primary_metric: r2}"),
                    "sales_manifest": _manifest(),
                    "tampered_runs": _runs("tampered_manifest"),
                    "skipped_manifest": _manifest("min_rows: 100"),
                    "skipped_runs": _runs(
                        "skipped_manifest", "min_rows: 100", data_tests=["sweep_failure_rate"]
                    ),
                }
            ),
        }

    @pytest.fixture(scope="class")
    def built(self, project):
        return _by_name(run_dbt(["build"], expect_pass=False))

    @pytest.mark.parametrize(
        ("model", "message"),
        [
            (
                "dup_manifest",
                "The 'key' column 'row_id' of the sweep in model 'dup_manifest' must identify each "
                "row of its group: 2 rows of 'feat_dup' repeat a key of their group (e.g. row_id=3 "
                "appears 2 times in group {store='s1'}). Rows that share a key are split in "
                "whatever order Spark delivers them, so metrics would change between builds of "
                "the same data. Make the key unique and non-null within each group in the feature "
                "model, or drop 'key' from the spec (rows are then ordered by all their columns).",
            ),
            (
                "null_manifest",
                "The 'key' column 'row_id' of the sweep in model 'null_manifest' must identify "
                "each row of its group: 2 rows of 'feat_null' have a null 'row_id' (e.g. in group "
                "{store='s2'}). Rows that share a key are split in whatever order Spark delivers "
                "them",
            ),
            (
                "status_manifest",
                "The 'sweep.group_by[0]' key of the sweep spec in model 'status_manifest' names "
                "column 'status', which sweep_runs and sweep_manifest write themselves. Group "
                f"columns must not be one of {sorted(RUN_COLUMNS | {'rmse', 'mae'})}; rename it "
                "in the feature model.",
            ),
            (
                "primary_manifest",
                "The 'sweep.primary_metric' key of the sweep spec in model 'primary_manifest' must "
                "be one of the listed metrics ['rmse', 'mae']. Got 'r2' instead. Add it to "
                "'metrics', or leave 'metrics' out to get the task's defaults plus the primary "
                "metric.",
            ),
        ],
        ids=["duplicate-key", "null-key", "group-named-status", "primary-not-listed"],
    )
    def test_bad_input_fails_its_model_with_a_precise_message(self, built, model, message):
        assert str(built[model].status) == "error"
        assert message in built[model].message

    def test_a_rewritten_manifest_row_fails_the_runs_and_runs_no_code(self, project, built, marker):
        tampered = table(project, "tampered_manifest")
        assert len(tampered) == 6
        run_key = tampered.loc[tampered["estimator"] == "subprocess.getoutput", "run_key"].item()
        result = built["tampered_runs"]
        assert str(result.status) == "error"
        # 3 distinct configurations: the two grid points and the rewritten row
        assert (
            "1 of 3 run configurations in model 'tampered_manifest' are not runs of the sweep "
            f"spec, so none is trained. The first: The 'estimator' of row '{run_key}' in model "
            "'tampered_manifest' must be 'sklearn.linear_model.Ridge', the path "
            "sweep.estimators[0] ('ridge') names. Got 'subprocess.getoutput' instead, which is "
            "not in the estimator allowlist ['sklearn.']; rebuild tampered_manifest from the "
            "spec (dbt build -s tampered_manifest+)."
        ) in result.message
        assert not marker.exists(), "the rewritten row's shell command ran"

    def test_a_sweep_of_only_skipped_runs_fails_the_default_failure_rate_gate(self, project, built):
        assert str(built["skipped_runs"].status) == "success"
        runs = table(project, "skipped_runs")
        assert len(runs) == 6 and set(runs["status"]) == {"skipped"}
        assert set(runs["error"]) == {"group has 40 rows; sweep.min_rows is 100"}
        gate = [r for name, r in built.items() if name.startswith("sweep_failure_rate_skipped")]
        assert [(str(r.status), r.failures) for r in gate] == [("fail", 1)]
        # and on its own, as `dbt test` runs it
        results = run_dbt(["test", "-s", "skipped_runs"], expect_pass=False)
        assert [(str(r.status), r.failures) for r in results] == [("fail", 1)]


# ---------- inputs that once crashed or went wrong and must now train


FEAT_DECIMAL = "select store, row_id, cast(a as decimal(12,4)) as a, b, t from {{ ref('sales') }}"
FEAT_SHARD = "select store, row_id, a, b, round(a - b, 4) as shard, t from {{ ref('sales') }}"
# Volatile by nature: when and how fast a run trained, and which build did it.
VOLATILE = ["trained_at", "fit_seconds", "score_seconds", "dbt_invocation_id"]


class TestOddInputTrains(ParquetProject):
    """One `dbt build` of four small sweeps and a predictions model, then one more `dbt run` of the
    sales sweep's two runs models (incremental and plain table)."""

    @pytest.fixture(scope="class")
    def seeds(self):
        return {"sales.csv": sales_csv()}

    @pytest.fixture(scope="class")
    def models(self):
        decimal = "source: feat_decimal"
        return {
            "feat_decimal.sql": FEAT_DECIMAL,
            "feat_shard.sql": FEAT_SHARD,
            "decimal_best.sql": "{{ sweep_best_models(ref('decimal_runs'), group_by=['store']) }}",
            **_sweeps(
                {
                    "decimal_manifest": _manifest(decimal),
                    "decimal_runs": _runs(
                        "decimal_manifest",
                        f"{{{decimal}, tracking: {{enabled: true, level: runs}}}}",
                    ),
                    "decimal_predictions": (
                        predictions_py("feat_decimal", "decimal_best"),
                        {
                            "config": {
                                "sweep": {**SPEC, "source": "feat_decimal"},
                                "scoring": {"source": "feat_decimal"},
                            }
                        },
                    ),
                    "shard_manifest": _manifest("{source: feat_shard, features: {exclude: []}}"),
                    "shard_runs": _runs(
                        "shard_manifest", "{source: feat_shard, features: {exclude: []}}"
                    ),
                    "listed_manifest": _manifest("{source: feat_shard, features: [a, b, shard]}"),
                    "listed_runs": _runs(
                        "listed_manifest", "{source: feat_shard, features: [a, b, shard]}"
                    ),
                    "sales_manifest": _manifest(),
                    "idem_runs": _runs(
                        "sales_manifest", py=INCREMENTAL_RUNS_PY, config=INCREMENTAL_RUNS
                    ),
                    "idem_plain": _runs("sales_manifest"),
                }
            ),
        }

    @pytest.fixture(scope="class")
    def built(self, project):
        return _by_name(run_dbt(["build"]))

    @pytest.fixture(scope="class")
    def rebuilt(self, project, built):
        """The sales sweep's runs tables after the first build, then after building them again."""
        first = {name: _sorted(table(project, name)) for name in ("idem_runs", "idem_plain")}
        _, log = run_dbt_and_capture(["run", "-s", "idem_runs", "idem_plain"])
        second = {name: _sorted(table(project, name)) for name in ("idem_runs", "idem_plain")}
        return first, second, log

    def test_every_model_builds(self, built):
        assert {n: str(r.status) for n, r in built.items() if str(r.status) != "success"} == {}

    def test_a_decimal_feature_trains_and_is_tracked(self, project, built):
        runs = table(project, "decimal_runs")
        assert len(runs) == 6 and set(runs["status"]) == {"ok"}
        assert runs[["rmse", "mae"]].notna().all().all()
        # it used to crash here: "Object of type Decimal is not JSON serializable"
        client = MlflowClient(f"sqlite:///{Path(project.project_root) / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("decimal_runs").experiment_id
        children = {
            r.info.run_id: r
            for r in client.search_runs([experiment], max_results=100)
            if "mlflow.parentRunId" in r.data.tags
        }
        assert set(children) == set(runs["mlflow_run_id"])
        assert {r.data.tags["status"] for r in children.values()} == {"ok"}
        assert len(client.search_logged_models([experiment])) == 3  # one winner per store

    def test_a_decimal_feature_predicts_with_its_groups_winner(self, project, built):
        predictions = table(project, "decimal_predictions")
        assert len(predictions) == 3 * 40 and set(predictions["status"]) == {"ok"}
        best = table(project, "decimal_best").set_index("store")
        rows = table(project, "feat_decimal")
        rows["a"] = rows["a"].astype(float)
        predicted = predictions.set_index(["store", "row_id"])["prediction"]
        for store, group in rows.groupby("store"):
            expected = load_model(bytes(best.loc[store, "model"])).predict(group[["a", "b"]])
            got = predicted.loc[[(store, i) for i in group["row_id"]]].to_numpy(dtype=float)
            np.testing.assert_allclose(got, expected, rtol=1e-9)

    def test_a_feature_named_shard_trains_as_a_feature(self, project, built):
        selected, listed = table(project, "shard_runs"), table(project, "listed_runs")
        assert len(selected) == len(listed) == 6
        assert set(selected["status"]) == set(listed["status"]) == {"ok"}
        # {exclude: []} selected a, b and shard: the same runs as listing them
        on = ["store", "params"]
        metrics = selected[[*on, "rmse", "mae"]].merge(listed[[*on, "rmse", "mae"]], on=on)
        assert len(metrics) == 6
        np.testing.assert_allclose(metrics["rmse_x"], metrics["rmse_y"], rtol=1e-12)
        np.testing.assert_allclose(metrics["mae_x"], metrics["mae_y"], rtol=1e-12)
        for blob in selected["model"].dropna():
            assert list(load_model(bytes(blob)).feature_names_in_) == ["a", "b", "shard"]

    def test_building_again_gives_the_same_table_and_model_bytes(self, rebuilt):
        first, second, log = rebuilt
        # incremental: nothing changed, every row carried forward as it was
        assert "idem_runs: 0 runs to train, 6 carried forward unchanged, 0 removed" in log
        pd.testing.assert_frame_equal(first["idem_runs"], second["idem_runs"])
        # plain table: every run trained again, to the same metrics and the same model bytes
        assert "idem_plain: 6 runs to train, 0 carried forward unchanged, 0 removed" in log
        before, after = first["idem_plain"], second["idem_plain"]
        assert set(before["status"]) == {"ok"} and before["model"].notna().any()
        assert (before["dbt_invocation_id"] != after["dbt_invocation_id"]).all()
        pd.testing.assert_frame_equal(before.drop(columns=VOLATILE), after.drop(columns=VOLATILE))
