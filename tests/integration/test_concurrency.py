"""Every writer at once: the stream, batch loads and pipeline runs, on the same tables.

The stream commits a micro-batch every second while `generate` lands batches and `pipeline`
runs in a loop. Afterwards every raw commit is published exactly once (accepted + rejected ==
raw, per batch_id) and no command failed - no commit conflict surfaced to a user.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from core.settings import LakehouseSettings, NamespaceSettings
from ingestion.kafka_sink import CdrProducer
from tests.integration.conftest import run_cli, unique
from tests.integration.reconcile import batches_not_published_once, query
from tests.integration.test_stream import Job, caught_up, events, new_topic, wait_until

pytestmark = pytest.mark.integration

WORLD = ["--subscribers", "2000", "--seed", "8"]  # the streamed events' world: they join


@pytest.fixture(scope="module")
def busy_settings(settings: LakehouseSettings) -> LakehouseSettings:
    """The session stack, with every layer in namespaces of its own and a 1 s stream trigger."""
    return settings.model_copy(
        update={
            "namespaces": NamespaceSettings(
                **{layer: f"cc_{name}" for layer, name in NamespaceSettings().model_dump().items()}
            ),
            "stream": settings.stream.model_copy(update={"trigger_seconds": 1.0}),
        }
    )


def test_stream_generate_and_pipeline_together_publish_every_commit_exactly_once(
    busy_settings: LakehouseSettings,
) -> None:
    settings = busy_settings
    loaded: list[int] = []

    def generate(*args: str) -> subprocess.CompletedProcess[str]:
        report = settings.home / f"{unique('cc-report')}.json"
        result = run_cli(
            settings, "generate", *WORLD, *args, "--rows", "20000", "--report", str(report), check=False
        )
        if result.returncode == 0:
            loaded.append(json.loads(report.read_text())["rows"])
        return result

    assert generate("--days", "1").returncode == 0
    topic = new_topic(settings, "cc.cdr")
    prefix = unique("cc")
    streamed = events(60_000, prefix, seed=8)
    job = Job(settings, topic)
    job.start()
    failures: list[str] = []
    finished = threading.Event()

    def produce() -> None:  # a steady ~1,200 events/s until the table is sent
        producer = CdrProducer(settings, topic)
        for start in range(0, streamed.num_rows, 600):
            producer.send(streamed.slice(start, 600))
            producer.flush()
            time.sleep(0.5)  # pacing the producer, not waiting for a result

    def load_batches() -> None:
        for day in ("2026-01-02", "2026-01-03", "2026-01-04"):
            result = generate("--start", day, "--days", "1")
            if result.returncode:
                failures.append(f"generate {day}: {result.stderr[-1500:]}")
        finished.set()

    writers = [threading.Thread(target=produce), threading.Thread(target=load_batches)]
    runs = 0
    try:
        for writer in writers:
            writer.start()
        while runs < 2 or not finished.is_set() or writers[0].is_alive():
            result = run_cli(settings, "pipeline", check=False)
            runs += 1
            if result.returncode:
                failures.append(f"pipeline run {runs}: {result.stderr[-1500:]}")
        for writer in writers:
            writer.join()
        wait_until(lambda: caught_up(settings, topic), what="the job to catch up")
    finally:
        for writer in writers:
            writer.join()
        alive = job.process.is_running()
        job.stop()
    assert alive, f"the streaming job died:\n{job.process.tail(60)}"
    assert not failures, failures

    run_cli(settings, "pipeline")  # takes what landed after the last loop run
    mismatched = batches_not_published_once(settings)
    assert mismatched.empty, mismatched
    ns = settings.namespaces
    (counts,) = query(
        settings,
        f"SELECT count(*) AS n, count(DISTINCT batch_id) AS commits, "
        f"count_if(source = 'stream') AS stream_rows FROM {ns.raw}.cdr",
    ).to_dict("records")
    assert counts["stream_rows"] == streamed.num_rows  # each streamed event landed once
    assert len(loaded) == 4 and counts["n"] == counts["stream_rows"] + sum(loaded)
    assert counts["commits"] > 5, "the stream committed in many micro-batches"
    assert runs >= 2
