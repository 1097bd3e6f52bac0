import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_demo_classification")
    manifest = dbt.ref("diagnosis_sweep_manifest")
    previous = session.table(str(dbt.this)) if dbt.is_incremental else None
    return dbt_sweep.models.sweep_runs(
        features,
        manifest,
        spec,
        model=dbt.this.identifier,
        previous=previous,
        retry=dbt.config.get("sweep_retry"),
    )
