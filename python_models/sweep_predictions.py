import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    scoring = dbt.config.get("scoring")
    rows = dbt.ref("feat_demo_regression_scoring")
    best = dbt.ref("best_models")
    existing = session.table(str(dbt.this)) if dbt.is_incremental else None
    return dbt_sweep.models.sweep_predictions(
        rows, best, spec, scoring, model=dbt.this.identifier, existing=existing
    )
