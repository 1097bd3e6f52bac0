import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_sales")
    manifest = dbt.ref("sales_manifest")
    return dbt_sweep.models.sweep_runs(features, manifest, spec, model=dbt.this.identifier)
