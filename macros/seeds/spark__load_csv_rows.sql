{#- Overrides dbt-spark's spark__load_csv_rows (dbt/include/spark/macros/materializations/seed.sql),
    which called adapter.convert_type for every cell (a 54k-row seed did not finish in 17 minutes) and,
    on session targets, put the values into the SQL text unescaped (an apostrophe broke the insert);
    see issue 17. Types are resolved once per column: the seed's column_types config, else dbt's
    inferred type, as create_csv_table does.
    On a `method: session` target with dbt-sweep's plugin registered, the rows go to Spark through the
    DataFrame API (dbt_sweep.plugin.seeds) and never pass through SQL; elsewhere dbt-spark's batched
    insert runs unchanged apart from the once-per-column types. -#}
{% macro spark__load_csv_rows(model, agate_table) %}

  {% set column_override = model['config'].get('column_types', {}) %}
  {% set types = [] %}
  {% for col_name in agate_table.column_names %}
      {% if col_name in column_override %}
          {% do types.append(column_override[col_name]) %}
      {% else %}
          {% do types.append(adapter.convert_type(agate_table, loop.index0)) %}
      {% endif %}
  {% endfor %}

  {#- Defined when dbt-sweep's plugin is registered; returns none (loading nothing) unless the
      target is `method: session`. -#}
  {% if adapter.dbt_sweep_load_seed is defined %}
      {% set rows = adapter.dbt_sweep_load_seed(this, agate_table, types) %}
      {% if rows is not none %}
          {% set columns = [] %}
          {% for col_name in agate_table.column_names %}
              {% do columns.append(col_name ~ ' ' ~ types[loop.index0]) %}
          {% endfor %}
          {#- Rendered into the compiled file: what was loaded, and how. -#}
          {{ return('-- ' ~ rows ~ ' rows appended to ' ~ this.render()
                    ~ " with Spark's DataFrame API (dbt-sweep): " ~ columns | join(', ')) }}
      {% endif %}
  {% endif %}

  {% set batch_size = get_batch_size() %}
  {% set statements = [] %}

  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set bindings = [] %}

      {% for row in chunk %}
          {% do bindings.extend(row) %}
      {% endfor %}

      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                    cast({{ get_binding_char() }} as {{ types[loop.index0] }})
                  {%- if not loop.last%},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last%},{%- endif %}
          {%- endfor %}
      {% endset %}

      {% do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) %}

      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}

  {# Return SQL so we can render it out into the compiled files #}
  {{ return(statements[0]) }}
{% endmacro %}
