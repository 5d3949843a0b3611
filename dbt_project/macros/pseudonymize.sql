{#-
  Keyed pseudonym of a personal identifier: HMAC-SHA-256 with the secret settings.pseudonym_key.
  A plain hash of a phone number is reversible by enumerating the number space; a keyed one is not.
-#}
{% macro pseudonymize(column) -%}
    to_hex(hmac_sha256(to_utf8({{ column }}), to_utf8('{{ lakehouse_setting("pseudonym_key") | replace("'", "''") }}')))
{%- endmacro %}
