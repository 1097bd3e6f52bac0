{% test sweep_failure_rate(
    model, max_failure_rate=0.1, status_column='status', failed_value='failed'
) %}
    {{
        return(
            adapter.dispatch('test_sweep_failure_rate', 'sweep')(
                model, max_failure_rate, status_column, failed_value
            )
        )
    }}
{% endtest %}

{% macro default__test_sweep_failure_rate(
    model, max_failure_rate, status_column, failed_value
) %}

{%- set model_name = sweep_test_model_name(model) -%}

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
        ) as failed_count

    from runs

),

validation_errors as (

    select
        failed_count * 1.0 / nullif(total_count, 0) as failure_rate,
        failed_count,
        total_count,
        {{ max_failure_rate }} as max_failure_rate

    from status_counts

    -- a failure rate at or below max_failure_rate is permitted, and so is a
    -- table with no rows (0 > max_failure_rate * 0 is false). Comparing counts
    -- rather than a quotient keeps float rounding out of the decision.
    where failed_count > {{ max_failure_rate }} * total_count

)

select * from validation_errors

{% endmacro %}
