import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_demo_regression")
    manifest = dbt.ref("sweep_manifest")
    return dbt_sweep.models.sweep_runs(features, manifest, spec, model=dbt.this.identifier)
