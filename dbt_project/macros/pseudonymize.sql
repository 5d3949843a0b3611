{#-
  Keyed pseudonym of a personal identifier: HMAC-SHA-256 with the secret settings.pseudonym_key.
  A plain hash of a phone number is reversible by enumerating the number space; a keyed one is not.
  The key is read from its table (app/pseudonym_key.py), never quoted: SQL text, dbt's compiled
  files and Trino's query history name the table only.
-#}
{% macro pseudonymize(column) -%}
    {%- set keys = lakehouse_setting('namespaces').get('keys', 'keys') -%}
    to_hex(hmac_sha256(to_utf8({{ column }}), (select pseudonym.key from {{ keys }}.pseudonym_key as pseudonym)))
{%- endmacro %}
