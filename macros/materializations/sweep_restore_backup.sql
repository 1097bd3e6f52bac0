{#-
    Step 1 of the `table` materialization's swap (macros/materializations/table.sql): if a build died
    between renaming `<name>` to `<name>__dbt_backup` and renaming the new table to `<name>`, put the
    last good table back under its name. Drops a backup that is no longer needed (`<name>` exists).
    Returns the relation now at `target_relation` (none if there is none).
-#}
{% macro sweep_restore_backup(target_relation) %}
  {{- return(adapter.dispatch('sweep_restore_backup', 'sweep')(target_relation)) -}}
{% endmacro %}

{% macro default__sweep_restore_backup(target_relation) %}
  {%- set old_relation = adapter.get_relation(database=target_relation.database,
                                              schema=target_relation.schema,
                                              identifier=target_relation.identifier) -%}
  {%- set backup = adapter.get_relation(database=target_relation.database,
                                        schema=target_relation.schema,
                                        identifier=target_relation.identifier ~ '__dbt_backup') -%}
  {%- if backup is not none and old_relation is none -%}
    {%- do log("Restoring " ~ backup ~ " (left by a build that failed mid-swap) to " ~ target_relation, info=true) -%}
    {%- set old_relation = backup.incorporate(path={'identifier': target_relation.identifier}) -%}
    {%- do adapter.rename_relation(backup, old_relation) -%}
  {%- elif backup is not none -%}
    {%- do adapter.drop_relation(backup) -%}
  {%- endif -%}
  {{ return(old_relation) }}
{% endmacro %}
