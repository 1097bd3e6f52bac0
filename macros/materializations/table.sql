{#-
    Overrides dbt-spark's `table` materialization (dbt/include/spark/macros/materializations/table.sql)
    for `type: spark` targets so that a failed build never loses the last good table. dbt-spark drops a
    parquet (any non-delta, non-iceberg) table before it builds the new one; a model that fails, a
    crashed Python worker or a Ctrl-C then leaves no table at all. Here, SQL and Python models alike:

      1. a `<name>__dbt_backup` left by a build that died mid-swap is renamed back to `<name>` if
         `<name>` is missing; leftover `<name>__dbt_tmp` / `<name>__dbt_backup` tables are dropped;
      2. the model is written to `<name>__dbt_tmp` (a real table; the old `<name>` is untouched);
      3. only when that write succeeded: `<name>` -> `<name>__dbt_backup`, `<name>__dbt_tmp` -> `<name>`
         (metastore renames; Hive moves a managed table's data directory), then the backup is dropped.

    A failure in 1-2 leaves the old table as it was; a failure between the two renames of 3 leaves it
    as `<name>__dbt_backup`, which the next build restores (step 1). Delta and iceberg tables of the
    same format keep dbt-spark's in-place `create or replace` (a transaction: the old version stays
    until the new one commits); so do models with `location_root` (the new table would need the old
    one's location). dbt-databricks has its own `table` materialization, which takes precedence.
-#}
{% materialization table, adapter='spark', supported_languages=['sql', 'python'] %}
  {%- set language = model['language'] -%}
  {%- set identifier = model['alias'] -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set file_format = config.get('file_format', validator=validation.any[basestring]) -%}
  {%- set target_relation = api.Relation.create(identifier=identifier, schema=schema, database=database,
                                                type='table') -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}

  {%- set old_relation = adapter.dispatch('sweep_restore_backup', 'sweep')(target_relation) -%}
  {%- if old_relation is not none -%}
    {%- set in_place = (old_relation.is_delta and file_format == 'delta')
                       or (old_relation.is_iceberg and file_format == 'iceberg') -%}
    {%- set old_relation_type = old_relation.type -%}
  {%- else -%}
    {%- set in_place = false -%}
    {%- set old_relation_type = 'table' -%}
  {%- endif -%}
  {%- set drop_first = not in_place and config.get('location_root') is not none -%}

  {{ run_hooks(pre_hooks) }}

  {%- if in_place or drop_first -%}
    {#- dbt-spark's own path: delta/iceberg replace in place; location_root drops first. -#}
    {%- if drop_first -%}
      {%- do adapter.drop_relation(target_relation.incorporate(type=old_relation_type)) -%}
    {%- endif -%}
    {%- call statement('main', language=language) -%}
      {{ create_table_as(False, target_relation, compiled_code, language) }}
    {%- endcall -%}
  {%- else -%}
    {%- do adapter.dispatch('sweep_drop_leftover', 'sweep')(intermediate_relation) -%}
    {%- call statement('main', language=language) -%}
      {{ create_table_as(False, intermediate_relation, compiled_code, language) }}
    {%- endcall -%}
    {%- do adapter.dispatch('sweep_swap_in', 'sweep')(intermediate_relation, target_relation, old_relation) -%}
  {%- endif -%}

  {% set should_revoke = should_revoke(old_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {% do persist_constraints(target_relation, model) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
