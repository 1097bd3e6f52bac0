import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_demo_classification")
    return dbt_sweep.models.sweep_manifest(features, spec, model=dbt.this.identifier)
