import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_demo_classification")
    manifest = dbt.ref("diagnosis_sweep_manifest")
    return dbt_sweep.models.sweep_runs(features, manifest, spec, model=dbt.this.identifier)
