{#-
    dbt-spark calls py_write_table by its bare name, so a package's version is never picked up: this
    wrapper hands Python models to dbt-sweep's writer (partition_by honoured, parquet by default, a
    plain error when the session method is missing). The package's table and incremental
    materializations (a failed build keeps the last good table) are enabled by the flag in
    dbt_project.yml: a root-project wrapper cannot pass them on, since dbt runs a Python model only
    from a materialization called directly.
-#}
{% macro py_write_table(compiled_code, target_relation) %}
  {{ return(sweep.py_write_table(compiled_code, target_relation)) }}
{% endmacro %}
