"""The lakehouse exporter: our own code's metrics, the stream's Kafka lag and the state dir's disk.

A long-lived process the launcher starts (``python -m infra.exporter``; the service is
:mod:`infra.services.lakehouse_exporter`) and Prometheus scrapes as job ``lakehouse``. At each
scrape it serves:

- every sample the stream job, the pipeline and the generator left in ``run/metrics/*.json``
  (:mod:`core.run_metrics`): they end, or run in a JVM we would rather not give a port;
- for the CDR topic and each topic a stream job reported on: the end offset of each
  partition and the lag behind the job's last micro-batch (end offset minus its processed
  offset), so lag grows while the job is stopped or frozen, when nothing else would report it;
- the free and total bytes of the file system holding the state dir.

It reads Kafka as the ``stream`` identity (DESCRIBE on the topic, implied by its READ) and gets
no other secret.
"""

from __future__ import annotations

import logging
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from core import clients
from core.run_metrics import STREAM_CONSUMER_LAG, STREAM_PROCESSED_OFFSET, Sample, read_samples
from core.settings import LakehouseSettings, load_settings

log = logging.getLogger(__name__)

LAG = STREAM_CONSUMER_LAG
END_OFFSET = "lakehouse_kafka_topic_end_offset"

EndOffsets = Callable[[str], dict[int, int]]


def _family_name(sample: Sample) -> str:
    # prometheus_client names a counter family without its _total suffix.
    return sample.name.removesuffix("_total") if sample.kind == "counter" else sample.name


def lag_samples(processed: dict[str, dict[int, int]], end_offsets: EndOffsets) -> list[Sample]:
    """End offset and lag per partition of each topic in ``processed`` (topic -> partition ->
    next offset the job will read). A topic whose offsets cannot be read is left out."""
    samples: list[Sample] = []
    for topic, done in sorted(processed.items()):
        try:
            ends = end_offsets(topic)
        except Exception as exc:  # noqa: BLE001 - a missing topic or a down broker costs its series
            log.warning("end offsets of %s not read: %s", topic, exc)
            continue
        for partition, end in sorted(ends.items()):
            labels = {"topic": topic, "partition": str(partition)}
            samples.append(Sample(END_OFFSET, end, labels, help="Next offset to be written."))
            behind = max(0, end - done.get(partition, 0))
            samples.append(Sample(LAG, behind, labels, help="Records the stream job has not processed."))
    return samples


def processed_offsets(samples: dict[str, list[Sample]]) -> dict[str, dict[int, int]]:
    """topic -> partition -> processed offset, from the stream job's metrics files."""
    found: dict[str, dict[int, int]] = {}
    for sample in (s for source in samples.values() for s in source):
        if sample.name == STREAM_PROCESSED_OFFSET:
            found.setdefault(sample.labels["topic"], {})[int(sample.labels["partition"])] = int(sample.value)
    return found


def disk_samples(settings: LakehouseSettings) -> list[Sample]:
    usage = shutil.disk_usage(settings.home)
    return [
        Sample("lakehouse_state_dir_free_bytes", usage.free, help="Free bytes of the state dir's disk."),
        Sample("lakehouse_state_dir_size_bytes", usage.total, help="Size of the state dir's disk."),
    ]


def families(samples: list[Sample]) -> list[Metric]:
    """Samples grouped into metric families (one per name, whatever its labels)."""
    by_name: dict[str, Metric] = {}
    for sample in samples:
        name = _family_name(sample)
        family = by_name.get(name)
        if family is None:
            family = by_name[name] = Metric(name, sample.help or sample.name, sample.kind)
        family.add_sample(sample.name, sample.labels, sample.value)
    return list(by_name.values())


class LakehouseCollector(Collector):
    """Everything the exporter serves, gathered anew at each scrape."""

    def __init__(self, settings: LakehouseSettings, end_offsets: EndOffsets) -> None:
        self.settings = settings
        self.end_offsets = end_offsets

    def collect(self) -> Iterator[Metric]:
        files = read_samples(self.settings)
        samples = [s for source in files.values() for s in source]
        processed = processed_offsets(files)
        # The CDR topic always: records waiting there with no job to land them are lag too.
        processed.setdefault(self.settings.kafka.cdr_topic, {})
        samples += lag_samples(processed, self.end_offsets)
        samples += disk_samples(self.settings)
        yield from families(samples)


class KafkaEndOffsets:
    """End offsets through one consumer kept across scrapes (re-made after an error)."""

    def __init__(self, settings: LakehouseSettings) -> None:
        self.settings = settings
        self._consumer: Any = None
        self._lock = threading.Lock()  # scrapes may overlap

    def __call__(self, topic: str) -> dict[int, int]:
        with self._lock:
            if self._consumer is None:
                self._consumer = clients.lag_consumer(self.settings)
            try:
                return clients.kafka_end_offsets(self._consumer, topic, timeout=5)
            except Exception:
                self._consumer.close()
                self._consumer = None
                raise


def serve(settings: LakehouseSettings) -> None:
    """Serve /metrics on the exporter's address until SIGTERM or SIGINT."""
    exporter = settings.monitoring.exporter
    registry = CollectorRegistry()
    registry.register(LakehouseCollector(settings, KafkaEndOffsets(settings)))
    server, thread = start_http_server(exporter.port, exporter.host, registry)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    log.info("serving metrics on http://%s:%d/metrics", exporter.host, exporter.port)
    while not stopping.wait(1.0):
        pass
    server.shutdown()
    thread.join(timeout=5)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(load_settings())


if __name__ == "__main__":
    main()
