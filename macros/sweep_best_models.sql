{#-
    The best `ok` run with model bytes of each group of a sweep_runs-shaped relation, by its primary metric in the
    direction sweep_runs records (`primary_direction`); ties go to the smallest run_key, so the
    winner is the same in every build. Used by the marts: `{{ sweep_best_models(ref('sweep_runs'),
    group_by=['group_id']) }}`.
-#}
{% macro sweep_best_models(runs, group_by) %}
{%- if group_by is string -%}{%- set group_by = [group_by] -%}{%- endif -%}
{%- if not group_by -%}
{{ exceptions.raise_compiler_error(
    "The 'group_by' argument of macro 'sweep_best_models' in model '" ~ model.name
    ~ "' must be a non-empty list of column names. Got " ~ group_by ~ " instead."
) }}
{%- endif -%}
with

runs as (

    select * from {{ runs }}

),

scored as (

    select
        *,
        case
            when primary_direction = 'maximize' then -primary_metric
            else primary_metric
        end as sweep_rank_value

    from runs
    -- the rule of dbt_sweep.training.selection: ok runs with a finite primary metric compete;
    -- with store_models: best only winners carry model bytes; a model that failed to serialise has none
    where status = 'ok'
        and primary_metric is not null
        and not isnan(primary_metric)
        and abs(primary_metric) < cast('Infinity' as double)
        and model is not null

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ group_by | join(', ') }}
            order by sweep_rank_value asc, run_key asc
        ) as sweep_rank

    from scored

),

best as (

    select * from ranked where sweep_rank = 1

)

select
    {%- for column in group_by %}
    {{ column }},
    {%- endfor %}
    run_key,
    estimator_name,
    estimator,
    params,
    primary_metric_name,
    primary_direction,
    primary_metric,
    n_train,
    n_test,
    model,
    trained_at,
    mlflow_run_id

from best
{% endmacro %}
