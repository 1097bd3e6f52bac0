-- One row per trial of the regression sweep's search runs (search: random or
-- optuna): the JSON array in sweep_runs.trials exploded. A nested `params`
-- object is kept as its JSON text (from_json reads an object into a string
-- field as its text).
{%- set trial_fields = [
    'number: int',
    'params: string',
    'value: double',
    'state: string',
    'seconds: double',
] %}
with

runs as (

    select * from {{ ref('sweep_runs') }}
    where trials is not null

),

exploded as (

    select
        run_key,
        group_id,
        estimator_name,
        explode(
            from_json(
                trials,
                'array<struct<{{ trial_fields | join(", ") }}>>'
            )
        ) as trial

    from runs

)

select
    run_key,
    group_id,
    estimator_name,
    trial.number as trial_number,
    trial.params as params,
    trial.value as value,
    trial.state as state,
    trial.seconds as seconds

from exploded
