{#-
    The name a gate's error message uses for the model under test. With a `where` config, dbt passes
    generic tests a subquery string instead of a relation; then the string is all there is.

    The gates call it as `adapter.dispatch('sweep_test_model_name', 'sweep')(model)`, not by its bare
    name: installed as a package, a macro of this package runs in the calling node's namespace, where
    bare names resolve to the root project's macros and dbt's, never to this package's (dbt-utils
    qualifies its own calls as `dbt_utils.<macro>` for the same reason). Dispatch finds it in the
    root project first, then in this package: the gates work both ways, as a package and with
    `macros/` copied into a project.
-#}
{% macro sweep_test_model_name(model) %}
{{- return(adapter.dispatch('sweep_test_model_name', 'sweep')(model)) -}}
{% endmacro %}

{% macro default__sweep_test_model_name(model) %}
{{- return(model.identifier if model.identifier is defined else model) -}}
{% endmacro %}
