{#-
    Each build's winners, appended to an incremental model: one row per group per build, with the
    build's dbt invocation id and time. The champion of a group is its latest row from an earlier
    build; `no_regression_from_champion` holds a new winner against it. Used by a model configured
    `materialized='incremental'`: `{{ sweep_winner_history(ref('best_models'), group_by=['group_id']) }}`.
-#}
{% macro sweep_winner_history(best_models, group_by) %}
{%- if group_by is string -%}{%- set group_by = [group_by] -%}{%- endif -%}
{%- if not group_by -%}
{{ exceptions.raise_compiler_error(
    "The 'group_by' argument of macro 'sweep_winner_history' in model '" ~ model.name
    ~ "' must be a non-empty list of column names. Got " ~ group_by ~ " instead."
) }}
{%- endif -%}
with

best_models as (

    select * from {{ best_models }}

),

recorded as (

    select
        {%- for column in group_by %}
        {{ column }},
        {%- endfor %}
        run_key,
        estimator_name,
        primary_metric_name,
        primary_direction,
        primary_metric,
        '{{ invocation_id }}' as dbt_invocation_id,
        current_timestamp() as recorded_at

    from best_models

)

select * from recorded
{%- if is_incremental() %}
-- a node re-run within one invocation records its winners once
where '{{ invocation_id }}' not in (select dbt_invocation_id from {{ this }})
{%- endif %}
{% endmacro %}
