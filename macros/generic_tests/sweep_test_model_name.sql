{#-
    The name a gate's error message uses for the model under test. With a `where` config, dbt passes
    generic tests a subquery string instead of a relation; then the string is all there is.
-#}
{% macro sweep_test_model_name(model) %}
{{- return(model.identifier if model.identifier is defined else model) -}}
{% endmacro %}
