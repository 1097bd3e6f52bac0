{#-
    True when `relation` and `other` have the same columns (names and types, in order): swapping one
    in for the other then changes no column (see macros/materializations/incremental.sql).
-#}
{% macro sweep_same_columns(relation, other) %}
  {{- return(adapter.dispatch('sweep_same_columns', 'sweep')(relation, other)) -}}
{% endmacro %}

{% macro default__sweep_same_columns(relation, other) %}
  {%- set columns = adapter.get_columns_in_relation(relation) -%}
  {%- set other_columns = adapter.get_columns_in_relation(other) -%}
  {%- set ns = namespace(same=(columns | length) == (other_columns | length)) -%}
  {%- for column in columns if ns.same -%}
    {%- set other_column = other_columns[loop.index0] -%}
    {%- if column.name | lower != other_column.name | lower
          or column.data_type | lower != other_column.data_type | lower -%}
      {%- set ns.same = false -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(ns.same) }}
{% endmacro %}
