"""Reconciliation of raw with the published clean layer, commit by commit."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core import clients
from core.settings import LakehouseSettings


def query(settings: LakehouseSettings, sql: str, **identity: Any) -> pd.DataFrame:
    """One Trino query as a DataFrame (as the engineer, unless ``identity`` says otherwise)."""
    conn = clients.trino_connection(settings, **identity)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return pd.DataFrame(cur.fetchall(), columns=[c[0] for c in cur.description])
    finally:
        conn.close()


def batches_not_published_once(settings: LakehouseSettings) -> pd.DataFrame:
    """Raw commits (``batch_id``) whose rows are not each published exactly once - accepted in
    clean.voice_calls / sms_messages / data_sessions or rejected in clean.rejected_cdrs. Empty
    when nothing was lost or doubled."""
    ns = settings.namespaces
    published = " UNION ALL ".join(
        f"SELECT batch_id FROM {ns.clean}.{table}"
        for table in ("voice_calls", "sms_messages", "data_sessions", "rejected_cdrs")
    )
    return query(
        settings,
        f"WITH raw AS (SELECT batch_id, count(*) AS n FROM {ns.raw}.cdr GROUP BY 1), "
        f"published AS (SELECT batch_id, count(*) AS n FROM ({published}) GROUP BY 1) "
        "SELECT coalesce(raw.batch_id, published.batch_id) AS batch_id, "
        "raw.n AS raw_rows, published.n AS published_rows "
        "FROM raw FULL OUTER JOIN published ON raw.batch_id = published.batch_id "
        "WHERE raw.n IS DISTINCT FROM published.n",
    )
