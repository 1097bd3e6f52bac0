{% test row_count_equals(model, compare_model) %}
    {{
        return(
            adapter.dispatch('test_row_count_equals', 'sweep')(
                model, compare_model
            )
        )
    }}
{% endtest %}

{% macro default__test_row_count_equals(model, compare_model) %}

with

model_rows as (

    select count(*) as row_count from {{ model }}

),

compare_model_rows as (

    select count(*) as row_count from {{ compare_model }}

),

validation_errors as (

    select
        model_rows.row_count as model_row_count,
        compare_model_rows.row_count as compare_model_row_count

    from model_rows
    cross join compare_model_rows

    -- equal row counts are permitted (two empty relations included)
    where model_rows.row_count != compare_model_rows.row_count

)

select * from validation_errors

{% endmacro %}
