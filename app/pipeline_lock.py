"""One pipeline at a time, across every machine that shares the catalog.

The lock is a PostgreSQL advisory lock in the catalog database: it is held by a session, so it
is released when the holder ends for any reason (a crash, kill -9, a lost connection), and two
pipelines on different machines of a cluster see the same lock.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg2.errors import LockNotAvailable

from core import clients
from core.exceptions import PipelineBusyError
from core.settings import LakehouseSettings

log = logging.getLogger(__name__)
# A fixed 32-bit key, from the lock's name (advisory locks are keyed by numbers).
PIPELINE_LOCK_KEY = zlib.crc32(b"cdr-lakehouse.pipeline")


@contextmanager
def pipeline_lock(settings: LakehouseSettings, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the pipeline lock for the ``with`` block; PipelineBusyError if another run holds it
    for longer than ``wait_seconds`` (0: do not wait)."""
    conn = clients.postgres_connection(settings)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if wait_seconds > 0:
                cur.execute(
                    "SELECT set_config('lock_timeout', %s, false)", (f"{int(wait_seconds * 1000)}ms",)
                )
                try:
                    cur.execute("SELECT pg_advisory_lock(%s)", (PIPELINE_LOCK_KEY,))
                    acquired = True
                except LockNotAvailable:  # lock_timeout passed
                    acquired = False
            else:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (PIPELINE_LOCK_KEY,))
                acquired = bool(cur.fetchone()[0])
            if not acquired:
                raise PipelineBusyError(
                    "another pipeline is running on this lakehouse (it holds the pipeline lock in "
                    f"{settings.postgres.database}); wait for it, or pass --wait SECONDS"
                )
            log.debug("pipeline lock %d taken", PIPELINE_LOCK_KEY)
        yield
    finally:
        conn.close()  # ends the session: the lock goes with it
