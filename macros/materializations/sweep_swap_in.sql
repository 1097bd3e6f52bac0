{#-
    Puts the complete table `new_relation` under the name of `target_relation` without ever dropping
    the last good table first: `<name>` -> `<name>__dbt_backup`, `new_relation` -> `<name>`, drop the
    backup. `old_relation` is what `<name>` holds now (none if nothing). A build killed between the
    two renames leaves the old table as `<name>__dbt_backup`; sweep_restore_backup puts it back.
    Used by the `table` and `incremental` materializations (macros/materializations/).
-#}
{% macro sweep_swap_in(new_relation, target_relation, old_relation) %}
  {{- return(adapter.dispatch('sweep_swap_in', 'sweep')(new_relation, target_relation, old_relation)) -}}
{% endmacro %}

{% macro default__sweep_swap_in(new_relation, target_relation, old_relation) %}
  {%- if old_relation is not none -%}
    {%- set backup_relation = make_backup_relation(target_relation, old_relation.type) -%}
    {%- do adapter.rename_relation(old_relation, backup_relation) -%}
  {%- endif -%}
  {%- do adapter.rename_relation(new_relation.incorporate(type='table'),
                                 target_relation.incorporate(type='table')) -%}
  {%- if old_relation is not none -%}
    {%- do adapter.drop_relation(backup_relation) -%}
  {%- endif -%}
{% endmacro %}
