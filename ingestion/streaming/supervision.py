"""How the streaming job restarts a failed query, and what it tells `make status`.

A query that fails is restarted from its checkpoint after a pause that doubles with each
failure in a row (``first_pause`` up to ``max_pause``); a query that completes a micro-batch
starts over. After ``max_failures`` failures in a row without progress the job gives up: a
query that cannot get past the same batch will not get past it by trying forever, and a job
that says "running" while nothing lands hides the fault. The job's state goes to a small JSON
file beside its pid file, which `make status` reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.exceptions import StreamJobFailedError


@dataclass(frozen=True)
class RestartPolicy:
    """Pauses between restarts of a failing query, and when to give up."""

    first_pause: float = 5.0
    max_pause: float = 300.0
    max_failures: int = 10


@dataclass
class QueryHealth:
    """One query's failures since its last completed micro-batch."""

    failures: int = 0
    restarts: int = 0
    last_batch: int = -1
    last_error: str | None = None

    def progressed(self, batch_id: int | None) -> None:
        """A micro-batch completed: the failures in a row end."""
        if batch_id is not None and batch_id > self.last_batch:
            self.last_batch = batch_id
            self.failures = 0

    def failed(self, error: str, policy: RestartPolicy) -> float:
        """Record a failure; the seconds to pause before restarting, or StreamJobFailedError."""
        self.failures += 1
        self.last_error = error
        if self.failures > policy.max_failures:
            raise StreamJobFailedError(
                f"a query failed {self.failures} times in a row without completing a micro-batch; "
                f"giving up. Last error: {error}"
            )
        self.restarts += 1
        return min(policy.max_pause, policy.first_pause * 2 ** (self.failures - 1))


@dataclass
class JobState:
    """What the job last said of itself: running, failing (restarting a query) or failed."""

    state: str = "running"
    queries: dict[str, QueryHealth] = field(default_factory=dict)
    updated_at: float = 0.0

    @classmethod
    def of(cls, queries: dict[str, QueryHealth], failed: bool = False) -> JobState:
        failing = any(q.failures for q in queries.values())
        return cls("failed" if failed else "failing" if failing else "running", queries, time.time())

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self)), encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> JobState | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        queries = {name: QueryHealth(**health) for name, health in data.get("queries", {}).items()}
        return cls(data.get("state", "running"), queries, float(data.get("updated_at", 0.0)))

    def describe(self) -> str:
        """One line for `make status`: the state, restarts, and the last error if failing."""
        restarts = sum(q.restarts for q in self.queries.values())
        errors = [f"{n}: {q.last_error}" for n, q in self.queries.items() if q.failures and q.last_error]
        text = self.state + (f" ({restarts} restarts)" if restarts else "")
        if self.state != "running" and errors:
            text += " - " + errors[0].splitlines()[0][:200]
        return text
