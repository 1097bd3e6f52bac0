{% test no_regression_from_champion(
    model,
    history,
    group_by,
    margin=0,
    metric_column='primary_metric',
    direction_column='primary_direction'
) %}
    {{
        return(
            adapter.dispatch('test_no_regression_from_champion', 'sweep')(
                model, history, group_by, margin, metric_column, direction_column
            )
        )
    }}
{% endtest %}

{% macro default__test_no_regression_from_champion(
    model, history, group_by, margin, metric_column, direction_column
) %}

{%- set model_name = adapter.dispatch('sweep_test_model_name', 'sweep')(model) -%}

{#- Checked when the test runs, not when dbt parses the project: a bad argument
    fails this one test instead of every dbt command. -#}
{%- if execute and (
    margin is boolean or margin is not number or margin < 0
) -%}
    {%- set got = "'" ~ margin ~ "'" if margin is string else margin -%}
    {{ exceptions.raise_compiler_error(
        "The 'margin' argument of test 'no_regression_from_champion' on model '"
        ~ model_name ~ "' must be a number >= 0, in the units of the primary"
        ~ " metric. Got " ~ got ~ " instead. Use 0 to refuse any regression."
    ) }}
{%- endif -%}
{%- if execute and (
    group_by is string
    or group_by is mapping
    or group_by is not iterable
    or group_by | length == 0
) -%}
    {%- set got = "'" ~ group_by ~ "'" if group_by is string else group_by -%}
    {{ exceptions.raise_compiler_error(
        "The 'group_by' argument of test 'no_regression_from_champion' on model '"
        ~ model_name ~ "' must be a non-empty list of column names. Got "
        ~ got ~ " instead. Write it as a YAML list, e.g. ['store_id']."
    ) }}
{%- endif -%}

{#- The history is looked up by name, not ref()'d: a ref would make this test
    wait for the history model, which appends this build's winners, and the
    new winner would be compared with itself. Built after best_models, the
    history holds earlier builds only when this test runs. -#}
{%- if execute and model.schema is not defined -%}
    {{ exceptions.raise_compiler_error(
        "Test 'no_regression_from_champion' on model '" ~ model_name ~ "' needs"
        ~ " the model itself to find its history beside it; it cannot take a"
        ~ " 'where' config. Filter the history model instead."
    ) }}
{%- endif -%}
{%- set history_relation = adapter.get_relation(
    database=model.database, schema=model.schema, identifier=history
) if execute else none -%}

{%- if history_relation is none %}

-- no history yet (first build): every winner is its group's first champion
select 1 as no_champion_yet where 1 = 0

{%- else %}

with

challengers as (

    select * from {{ model }}

),

history as (

    select * from {{ history_relation }}

),

latest as (

    select
        *,
        row_number() over (
            partition by {{ group_by | join(', ') }}
            order by recorded_at desc, dbt_invocation_id desc
        ) as sweep_history_rank

    from history

),

champions as (

    select * from latest where sweep_history_rank = 1

),

compared as (

    select
        {%- for column in group_by %}
        challengers.{{ column }},
        {%- endfor %}
        champions.run_key as champion_run_key,
        champions.{{ metric_column }} as champion_metric,
        challengers.run_key as challenger_run_key,
        challengers.{{ metric_column }} as challenger_metric,
        challengers.{{ direction_column }} as direction,
        -- how much worse the challenger is, in the metric's units (negative: better)
        case
            when challengers.{{ direction_column }} = 'maximize'
                then champions.{{ metric_column }} - challengers.{{ metric_column }}
            else challengers.{{ metric_column }} - champions.{{ metric_column }}
        end as regression,
        {{ margin }} as margin

    from challengers
    -- groups are matched null-safely: a NULL group key is a group of its own
    inner join champions
        on
        {%- for column in group_by %}
            (
                challengers.{{ column }} = champions.{{ column }}
                or (challengers.{{ column }} is null and champions.{{ column }} is null)
            )
            {%- if not loop.last %} and{% endif %}
        {%- endfor %}

),

validation_errors as (

    select * from compared
    -- a challenger within the margin of its champion is permitted, and so is a
    -- group with no champion yet (no history row: not joined)
    where regression > {{ margin }}

)

select * from validation_errors

{%- endif %}

{% endmacro %}
