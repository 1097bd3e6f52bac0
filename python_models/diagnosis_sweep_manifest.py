import dbt_sweep.sweep


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_demo_classification")
    return dbt_sweep.sweep.sweep_manifest(features, spec, model=dbt.this.identifier)
