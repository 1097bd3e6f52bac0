{#-
    One row per trial of the search runs of a sweep_runs-shaped relation: its `trials` JSON array
    exploded (grid runs have none). A trial's nested `params` object is kept as its JSON text
    (from_json reads an object into a string field as its text); `rows`/`rounds` are set by
    successive halving and `epochs` by Optuna pruning, null otherwise. Used by the marts:
    `{{ sweep_trials(ref('sweep_runs'), group_by=['group_id']) }}`.
-#}
{% macro sweep_trials(runs, group_by) %}
{%- if group_by is string -%}{%- set group_by = [group_by] -%}{%- endif -%}
{%- if not group_by -%}
{{ exceptions.raise_compiler_error(
    "The 'group_by' argument of macro 'sweep_trials' in model '" ~ model.name
    ~ "' must be a non-empty list of column names. Got " ~ group_by ~ " instead."
) }}
{%- endif -%}
{%- set trial_fields = [
    'number: int',
    'params: string',
    'value: double',
    'state: string',
    'seconds: double',
    'rows: bigint',
    'rounds: int',
    'epochs: int',
] -%}
with

runs as (

    select * from {{ runs }}
    where trials is not null

),

exploded as (

    select
        run_key,
        {%- for column in group_by %}
        {{ column }},
        {%- endfor %}
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
    {%- for column in group_by %}
    {{ column }},
    {%- endfor %}
    estimator_name,
    trial.number as trial_number,
    trial.params as params,
    trial.value as value,
    trial.state as state,
    trial.seconds as seconds,
    trial.rows as rows,
    trial.rounds as rounds,
    trial.epochs as epochs

from exploded
{% endmacro %}
