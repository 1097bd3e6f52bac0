{#-
    Drops `relation` (a table or view) if the catalog has it, whatever its type: the intermediate
    table of a build that failed before its swap (see macros/materializations/table.sql).
-#}
{% macro sweep_drop_leftover(relation) %}
  {{- return(adapter.dispatch('sweep_drop_leftover', 'sweep')(relation)) -}}
{% endmacro %}

{% macro default__sweep_drop_leftover(relation) %}
  {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema,
                                          identifier=relation.identifier) -%}
  {%- if existing is not none -%}
    {%- do adapter.drop_relation(existing) -%}
  {%- endif -%}
{% endmacro %}
