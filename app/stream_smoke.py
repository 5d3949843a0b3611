"""Check `make stream` from the outside, as a user would (`python -m app.stream_smoke`).

``arrive``: streamed events become visible in ``raw.cdr`` through Trino; prints how soon.
``landed``: after `make pipeline`, those events are in the clean layer, nearly all accepted.
Exits non-zero with the reason when a check does not hold.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from app.transform import cdr_checked_table
from core import clients
from core.settings import LakehouseSettings, load_settings

MIN_ROWS = 10_000
TIMEOUT_SECONDS = 300
MIN_ACCEPTED = 0.95  # the producer injects ~1% defects; the clean layer rejects those


def _since_file(settings: LakehouseSettings) -> Path:
    return settings.run_dir / "stream-smoke.json"


def arrive(settings: LakehouseSettings) -> str:
    """Wait for MIN_ROWS streamed rows ingested from now on."""
    since = datetime.now(UTC).replace(microsecond=0)
    _since_file(settings).write_text(json.dumps({"since": since.isoformat()}))
    began = time.monotonic()
    first_seen = None
    sql = (
        f"SELECT count(*) FROM {settings.namespaces.raw}.cdr "
        f"WHERE source = 'stream' AND ingested_at >= from_iso8601_timestamp('{since.isoformat()}')"
    )
    while time.monotonic() - began < TIMEOUT_SECONDS:
        ((rows,),) = clients.trino_query(settings, sql)
        if rows and first_seen is None:
            first_seen = time.monotonic() - began
        if rows >= MIN_ROWS:
            return (
                f"{rows:,} streamed events visible through Trino; the first {first_seen:.0f} s after the "
                f"check began, {MIN_ROWS:,} after {time.monotonic() - began:.0f} s"
            )
        time.sleep(1)
    raise SystemExit(f"stream smoke: fewer than {MIN_ROWS:,} streamed events after {TIMEOUT_SECONDS} s")


def landed(settings: LakehouseSettings) -> str:
    """The events `arrive` saw went through the clean layer's checks."""
    since = json.loads(_since_file(settings).read_text())["since"]
    ((total, accepted),) = clients.trino_query(
        settings,
        f"SELECT count(*), count_if(reject_reason IS NULL) FROM {cdr_checked_table(settings)} "
        f"WHERE source = 'stream' AND ingested_at >= from_iso8601_timestamp('{since}')",
    )
    if total < MIN_ROWS or accepted < MIN_ACCEPTED * total:
        raise SystemExit(f"stream smoke: clean layer has {total:,} streamed rows, {accepted:,} accepted")
    return f"clean layer took {total:,} streamed events, {accepted / total:.1%} accepted"


def main() -> int:
    checks = {"arrive": arrive, "landed": landed}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        raise SystemExit(f"usage: python -m app.stream_smoke {{{'|'.join(checks)}}}")
    print(f"ok: {checks[sys.argv[1]](load_settings())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
