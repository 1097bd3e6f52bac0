{% test one_best_model_per_group(
    model, group_by, runs, status_column='status', ok_value='ok'
) %}
    {{
        return(
            adapter.dispatch('test_one_best_model_per_group', 'sweep')(
                model, group_by, runs, status_column, ok_value
            )
        )
    }}
{% endtest %}

{% macro default__test_one_best_model_per_group(
    model, group_by, runs, status_column, ok_value
) %}

{%- set model_name = adapter.dispatch('sweep_test_model_name', 'sweep')(model) -%}

{#- Checked when the test runs, not when dbt parses the project: a bad argument
    fails this one test instead of every dbt command. -#}
{%- if execute and (
    group_by is string
    or group_by is mapping
    or group_by is not iterable
    or group_by | length == 0
) -%}
    {%- set got = "'" ~ group_by ~ "'" if group_by is string else group_by -%}
    {{ exceptions.raise_compiler_error(
        "The 'group_by' argument of test 'one_best_model_per_group' on model '"
        ~ model_name ~ "' must be a non-empty list of column names. Got "
        ~ got ~ " instead. Write it as a YAML list, e.g. ['store_id']."
    ) }}
{%- endif -%}

{%- set group_columns = group_by | join(', ') %}

{#- Groups are matched with `partition by` and `distinct`, never with a join:
    both treat NULL keys as equal in every SQL dialect, so a NULL group key is
    a group of its own without a null-safe comparison. #}

with

best_models as (

    select * from {{ model }}

),

sweep_runs as (

    select * from {{ runs }}

),

ok_runs_per_group as (

    select
        {{ group_columns }},
        count(*) as ok_runs,
        0 as best_rows

    from sweep_runs

    -- only ok runs make a group need a best model; failed and skipped do not
    where {{ status_column }} = {{ dbt.string_literal(ok_value) }}

    group by {{ group_columns }}

),

best_model_rows as (

    select
        {{ group_columns }},
        0 as ok_runs,
        1 as best_rows

    from best_models

),

stacked as (

    select * from ok_runs_per_group
    union all
    select * from best_model_rows

),

group_counts as (

    select
        {{ group_columns }},
        best_rows as is_best_row,
        sum(ok_runs) over (partition by {{ group_columns }}) as n_ok_runs,
        sum(best_rows) over (partition by {{ group_columns }}) as n_best_rows

    from stacked

),

missing_best_models as (

    select distinct
        {{ group_columns }},
        n_ok_runs,
        n_best_rows,
        'missing_best_model' as violation

    from group_counts

    -- one row per group: a group with an ok run must have a best model;
    -- a group without one needs none
    where n_ok_runs > 0 and n_best_rows = 0

),

duplicate_best_models as (

    select distinct
        {{ group_columns }},
        n_ok_runs,
        n_best_rows,
        'duplicate_best_models' as violation

    from group_counts

    -- one row per group: a group may have at most one best model
    where n_best_rows > 1

),

best_models_without_ok_run as (

    select
        {{ group_columns }},
        n_ok_runs,
        n_best_rows,
        'best_model_without_ok_run' as violation

    from group_counts

    -- one row per best row: a best model is permitted only in a group with
    -- at least one ok run
    where is_best_row = 1 and n_ok_runs = 0

),

validation_errors as (

    select * from missing_best_models
    union all
    select * from duplicate_best_models
    union all
    select * from best_models_without_ok_run

)

select * from validation_errors

{% endmacro %}
