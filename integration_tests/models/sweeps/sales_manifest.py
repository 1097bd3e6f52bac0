import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_sales")
    return dbt_sweep.models.sweep_manifest(features, spec, model=dbt.this.identifier)
