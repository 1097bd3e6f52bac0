{% test unique_combination_of_columns(
    model, combination_of_columns, quote_columns=false
) %}
    {{
        return(
            adapter.dispatch('test_unique_combination_of_columns', 'sweep')(
                model, combination_of_columns, quote_columns
            )
        )
    }}
{% endtest %}

{% macro default__test_unique_combination_of_columns(
    model, combination_of_columns, quote_columns
) %}

{%- set model_name = adapter.dispatch('sweep_test_model_name', 'sweep')(model) -%}

{#- Checked when the test runs, not when dbt parses the project: a bad argument
    fails this one test instead of every dbt command. -#}
{%- if execute -%}
    {%- set owner = "test 'unique_combination_of_columns' on model '"
        ~ model_name ~ "'" -%}
    {%- if combination_of_columns is string
        or combination_of_columns is mapping
        or combination_of_columns is not iterable
        or combination_of_columns | length == 0 -%}
        {%- set got = "'" ~ combination_of_columns ~ "'"
            if combination_of_columns is string else combination_of_columns -%}
        {{ exceptions.raise_compiler_error(
            "The 'combination_of_columns' argument of " ~ owner
            ~ " must be a non-empty list of column names. Got " ~ got
            ~ " instead. Write it as a YAML list, e.g. ['store_id', 'run_key']."
        ) }}
    {%- endif -%}
    {%- if quote_columns is not boolean -%}
        {%- set got = "'" ~ quote_columns ~ "'"
            if quote_columns is string else quote_columns -%}
        {{ exceptions.raise_compiler_error(
            "The 'quote_columns' argument of " ~ owner
            ~ " must be a boolean (true or false). Got " ~ got ~ " instead."
        ) }}
    {%- endif -%}
{%- endif -%}

{%- set column_list = [] -%}
{%- for column in combination_of_columns -%}
    {%- do column_list.append(
        adapter.quote(column) if quote_columns else column
    ) -%}
{%- endfor -%}
{%- set columns_csv = column_list | join(', ') %}

with

source_rows as (

    select * from {{ model }}

),

validation_errors as (

    select
        {{ columns_csv }},
        count(*) as n_records

    from source_rows

    group by {{ columns_csv }}

    -- a combination that occurs once is permitted. NULLs compare as equal
    -- here (group by puts them together), so two rows that differ only by
    -- being NULL in the same column are duplicates.
    having count(*) > 1

)

select * from validation_errors

{% endmacro %}
