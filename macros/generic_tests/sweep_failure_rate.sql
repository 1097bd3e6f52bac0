{% test sweep_failure_rate(
    model,
    max_failure_rate=0.1,
    status_column='status',
    failed_value='failed',
    min_ok_runs=1,
    ok_value='ok'
) %}
    {{
        return(
            adapter.dispatch('test_sweep_failure_rate', 'sweep')(
                model,
                max_failure_rate,
                status_column,
                failed_value,
                min_ok_runs,
                ok_value
            )
        )
    }}
{% endtest %}

{% macro default__test_sweep_failure_rate(
    model, max_failure_rate, status_column, failed_value, min_ok_runs, ok_value
) %}

{%- set model_name = adapter.dispatch('sweep_test_model_name', 'sweep')(model) -%}

{#- Checked when the test runs, not when dbt parses the project: a bad argument
    fails this one test instead of every dbt command. -#}
{%- if execute and (
    max_failure_rate is boolean
    or max_failure_rate is not number
    or max_failure_rate < 0
    or max_failure_rate > 1
) -%}
    {%- set got = "'" ~ max_failure_rate ~ "'"
        if max_failure_rate is string else max_failure_rate -%}
    {{ exceptions.raise_compiler_error(
        "The 'max_failure_rate' argument of test 'sweep_failure_rate'"
        ~ " on model '" ~ model_name ~ "' must be a number in [0, 1]. Got "
        ~ got ~ " instead. Write it as a share, e.g. 0.1 for 10%."
    ) }}
{%- endif %}
{%- if execute and (
    min_ok_runs is boolean
    or min_ok_runs is not number
    or min_ok_runs < 0
    or min_ok_runs != (min_ok_runs | int)
) -%}
    {%- set got = "'" ~ min_ok_runs ~ "'"
        if min_ok_runs is string else min_ok_runs -%}
    {{ exceptions.raise_compiler_error(
        "The 'min_ok_runs' argument of test 'sweep_failure_rate'"
        ~ " on model '" ~ model_name ~ "' must be a whole number >= 0. Got "
        ~ got ~ " instead. Use 0 to allow a sweep in which no run trained."
    ) }}
{%- endif %}

with

runs as (

    select * from {{ model }}

),

status_counts as (

    select
        -- every row is in the denominator: ok, failed, skipped and NULL status
        count(*) as total_count,
        -- only rows whose status is exactly failed_value count as failures
        coalesce(
            sum(
                case
                    when
                        {{ status_column }}
                        = {{ dbt.string_literal(failed_value) }}
                        then 1
                    else 0
                end
            ),
            0
        ) as failed_count,
        -- runs that trained: a sweep of only skipped (or failed) runs has no winner
        coalesce(
            sum(
                case
                    when
                        {{ status_column }}
                        = {{ dbt.string_literal(ok_value) }}
                        then 1
                    else 0
                end
            ),
            0
        ) as ok_count

    from runs

),

validation_errors as (

    select
        failed_count * 1.0 / nullif(total_count, 0) as failure_rate,
        failed_count,
        total_count,
        ok_count,
        {{ max_failure_rate }} as max_failure_rate,
        {{ min_ok_runs }} as min_ok_runs

    from status_counts

    -- a failure rate at or below max_failure_rate is permitted, and so is a
    -- table with no rows (0 > max_failure_rate * 0 is false). Comparing counts
    -- rather than a quotient keeps float rounding out of the decision.
    where failed_count > {{ max_failure_rate }} * total_count
        -- a table with runs of which fewer than min_ok_runs trained fails: every
        -- run skipped (e.g. folds larger than every group) means no group has a model
        or (total_count > 0 and ok_count < {{ min_ok_runs }})

)

select * from validation_errors

{% endmacro %}
