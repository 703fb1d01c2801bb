{#- Layers get their own schema, named as in dbt_project.yml (staging, intermediate, marts),
    rather than dbt's default <target schema>_<custom schema>; the raw schema is the loader's. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
