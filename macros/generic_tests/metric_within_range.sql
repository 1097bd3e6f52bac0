{% test metric_within_range(
    model,
    column_name,
    min_value=none,
    max_value=none,
    inclusive=true,
    where_status='ok',
    status_column='status'
) %}
    {{
        return(
            adapter.dispatch('test_metric_within_range', 'sweep')(
                model,
                column_name,
                min_value,
                max_value,
                inclusive,
                where_status,
                status_column
            )
        )
    }}
{% endtest %}

{% macro default__test_metric_within_range(
    model,
    column_name,
    min_value,
    max_value,
    inclusive,
    where_status,
    status_column
) %}

{%- set model_name = adapter.dispatch('sweep_test_model_name', 'sweep')(model) -%}

{#- Checked when the test runs, not when dbt parses the project: a bad argument
    fails this one test instead of every dbt command. -#}
{%- if execute -%}
    {%- set owner = "test 'metric_within_range' on column '" ~ column_name
        ~ "' of model '" ~ model_name ~ "'" -%}
    {%- set bounds = [('min_value', min_value), ('max_value', max_value)] -%}
    {%- for name, value in bounds -%}
        {%- if value is not none
            and (value is boolean or value is not number) -%}
            {%- set got = "'" ~ value ~ "'" if value is string else value -%}
            {{ exceptions.raise_compiler_error(
                "The '" ~ name ~ "' argument of " ~ owner
                ~ " must be a number or null. Got " ~ got ~ " instead."
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if min_value is not none and max_value is not none
        and min_value > max_value -%}
        {{ exceptions.raise_compiler_error(
            "The 'min_value' argument of " ~ owner
            ~ " must be at most 'max_value' (" ~ max_value ~ "). Got "
            ~ min_value ~ " instead. Swap the two bounds."
        ) }}
    {%- endif -%}
    {%- if inclusive is not boolean -%}
        {%- set got = "'" ~ inclusive ~ "'"
            if inclusive is string else inclusive -%}
        {{ exceptions.raise_compiler_error(
            "The 'inclusive' argument of " ~ owner
            ~ " must be a boolean (true or false). Got " ~ got ~ " instead."
        ) }}
    {%- endif -%}
{%- endif %}

with

runs as (

    select * from {{ model }}

),

checked_runs as (

    select * from runs
    {%- if where_status is not none %}

    -- rows with another status (failed, skipped) carry no metric to check;
    -- where_status=none checks every row
    where {{ status_column }} = {{ dbt.string_literal(where_status) }}
    {%- endif %}

),

validation_errors as (

    select * from checked_runs

    where
        -- a checked row must have a metric: NULL is never permitted
        {{ column_name }} is null
        {%- if min_value is not none %}

        -- values >= min_value (> when inclusive=false) are permitted;
        -- the `not` flips the rule to find the rows that break it
        or not {{ column_name }} >{{ "=" if inclusive }} {{ min_value }}
        {%- endif %}
        {%- if max_value is not none %}

        -- values <= max_value (< when inclusive=false) are permitted;
        -- the `not` flips the rule to find the rows that break it
        or not {{ column_name }} <{{ "=" if inclusive }} {{ max_value }}
        {%- endif %}

)

select * from validation_errors

{% endmacro %}
