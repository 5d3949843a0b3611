"""The pseudonym key, where SQL can use it without quoting it.

The models pseudonymise identifiers with HMAC-SHA-256 keyed by ``settings.pseudonym_key``. Quoted
into SQL, the key would sit in dbt's compiled files and logs and in Trino's query history, for
anyone who can list queries. Instead it is written - through PyIceberg, so in no SQL text - into a
one-row table, ``<keys>.pseudonym_key``, and the ``pseudonymize`` macro reads it with a subquery:
the SQL names the table, never the key.
"""

from __future__ import annotations

import pyarrow as pa

from core import clients
from core.exceptions import ConfigError
from core.settings import LakehouseSettings
from ingestion.iceberg_tables import ensure_table

KEY_TABLE = "pseudonym_key"  # the dbt macro pseudonymize() reads <namespaces.keys>.pseudonym_key
KEY_SCHEMA = pa.schema([pa.field("key", pa.binary(), nullable=False)])


def key_table(settings: LakehouseSettings) -> str:
    return f"{settings.namespaces.keys}.{KEY_TABLE}"


def install_pseudonym_key(settings: LakehouseSettings) -> bool:
    """Make the key table hold the settings' key; True when it was written (the first time).

    A different key already installed is refused (ConfigError): every published pseudonym was
    made with it, and a silent change would split each subscriber in two.
    """
    key = settings.require_pseudonym_key().encode()
    catalog = clients.iceberg_catalog(settings)
    catalog.create_namespace_if_not_exists(settings.namespaces.keys)
    table = ensure_table(catalog, key_table(settings), KEY_SCHEMA)
    held = table.scan().to_arrow().column("key").to_pylist() if table.current_snapshot() else []
    if held == [key]:
        return False
    if held:
        raise ConfigError(
            "LAKEHOUSE_PSEUDONYM_KEY differs from the key the lakehouse's pseudonyms were made with; "
            "set the original key back (rotating it means re-keying every layer: see SECURITY.md)"
        )
    table.overwrite(pa.Table.from_pydict({"key": [key]}, schema=KEY_SCHEMA))
    return True
