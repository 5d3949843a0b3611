"""The live producer's ground truth: each cycle's incidents, as streamed, beside the batch truth.

``lakehouse stream produce`` injects the generator's incidents into live traffic, shifted to
the wall clock. What it injected goes to ``<raw>_truth.live_incidents`` (the batch load's
``incidents`` table has the unshifted times of a generation), so ``lakehouse stream score`` can
judge the real-time alerts against it.

A producer run is named by its event seed and the moment its simulated clock starts; a cycle's
rows replace whatever that run and cycle wrote before, so recording twice (a retry, a restart
that reuses the seed and origin) leaves one copy.
"""

from __future__ import annotations

import logging
import warnings

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import And, EqualTo
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from core.contracts.raw_tables import TS, truth_namespace
from core.contracts.stream_tables import LIVE_INCIDENTS_SCHEMA, live_truth_table
from ingestion.iceberg_tables import ensure_table

log = logging.getLogger(__name__)


@retry(
    retry=retry_if_exception_type(CommitFailedException),  # two producers committing at once
    stop=stop_after_attempt(8),
    wait=wait_random_exponential(multiplier=0.2, max=5),
    reraise=True,
)
def record_live_truth(
    catalog: Catalog,
    raw_namespace: str,
    run_id: str,
    cycle: int,
    span_us: tuple[int, int],
    truth: pa.Table,
) -> int:
    """Write one cycle's incidents (``truth``, times as streamed) for ``run_id``, whose cycle
    covers ``span_us`` (UTC epoch microseconds, end excluded); rows written."""
    n = truth.num_rows
    rows = pa.Table.from_arrays(
        [
            *truth.select(LIVE_INCIDENTS_SCHEMA.names[: truth.num_columns]).columns,
            pa.repeat(pa.scalar(run_id), n),
            pa.repeat(pa.scalar(cycle, pa.int32()), n),
            *(pa.repeat(pa.scalar(at, TS), n) for at in span_us),
        ],
        schema=LIVE_INCIDENTS_SCHEMA,
    )
    catalog.create_namespace_if_not_exists(truth_namespace(raw_namespace))
    table = ensure_table(catalog, live_truth_table(raw_namespace), LIVE_INCIDENTS_SCHEMA)
    if table.current_snapshot() is None:
        table.append(rows)
    else:
        with warnings.catch_warnings():  # a cycle's first recording replaces nothing: not news
            warnings.filterwarnings("ignore", "Delete operation did not match any records")
            table.overwrite(rows, overwrite_filter=And(EqualTo("run_id", run_id), EqualTo("cycle", cycle)))
    log.info("live truth: %d incident rows of %s cycle %d in %s", n, run_id, cycle, table.name())
    return n
