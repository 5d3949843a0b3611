{#- Rows where the expression is false fail the test (dbt_utils is not reachable here). -#}
{% test expression_is_true(model, expression, where="true") %}
    select * from {{ model }} where ({{ where }}) and not ({{ expression }})
{% endtest %}
