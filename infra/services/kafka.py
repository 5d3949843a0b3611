"""Kafka: a single-node KRaft broker (broker and controller in one process)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from core import clients
from core.exceptions import ServiceStartError
from core.settings import KafkaSettings, LakehouseSettings
from infra.process import run_checked
from infra.services.base import Health, Port, Service, java_binary

JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-Djava.awt.headless=true",
)

LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def render_server_properties(settings: LakehouseSettings, log_dir: Path) -> str:
    k = settings.kafka
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{k.host}:{k.controller_port}
listeners=PLAINTEXT://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port}
advertised.listeners=PLAINTEXT://{k.host}:{k.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dir}
num.partitions={k.partitions}
# One broker: every internal topic has a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# Topics are created by the launcher, with the partitions the settings ask for.
auto.create.topics.enable=false
log.retention.hours=168
"""


def new_cluster_id() -> str:
    """A Kafka cluster id: a UUID in URL-safe base64 without padding (as Kafka's Uuid)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaService(Service):
    name = "kafka"

    @property
    def endpoint(self) -> KafkaSettings:
        return self.settings.kafka

    def ports(self) -> list[Port]:
        return [
            Port(self.endpoint.port, "LAKEHOUSE_KAFKA__PORT"),
            Port(self.endpoint.controller_port, "LAKEHOUSE_KAFKA__CONTROLLER_PORT"),
        ]

    def url(self) -> str:
        return f"kafka://{self.endpoint.bootstrap_servers}"

    def install(self) -> None:
        self.artifacts.ensure_kafka()

    def startup_timeout(self) -> float:
        return 120.0

    def _java(self, main: str, *args: str) -> list[str]:
        conf = self.conf_dir
        return [
            str(java_binary(self.settings)),
            f"-Xmx{self.endpoint.heap}",
            f"-Xms{self.endpoint.heap}",
            *JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
            "-cp",
            str(self.artifacts.kafka_libs() / "*"),
            main,
            *args,
        ]

    def start(self) -> None:
        conf = self.conf_dir
        conf.mkdir(parents=True, exist_ok=True)
        log_dir = self.data_dir / "kraft"
        server_properties = conf / "server.properties"
        server_properties.write_text(render_server_properties(self.settings, log_dir))
        (conf / "log4j2.properties").write_text(LOG4J2)
        if not (log_dir / "meta.properties").exists():
            result = run_checked(
                self._java(
                    "kafka.tools.StorageTool",
                    # `--cluster-id=<id>`: an id may start with "-", which would read as an option.
                    "format", f"--cluster-id={new_cluster_id()}", "--config", str(server_properties),
                )
            )  # fmt: skip
            if result.returncode != 0:
                output = f"{result.stdout}{result.stderr}"
                raise ServiceStartError(self.name, f"formatting the KRaft storage failed:\n{output}")
        self.process.start(self._java("kafka.Kafka", str(server_properties)))

    def check(self) -> Health:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(clients.kafka_config(self.settings))
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy" here
            return Health(False, str(exc))
        return Health(True, f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topics")

    def provision(self) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient(clients.kafka_config(self.settings))
        existing = set(admin.list_topics(timeout=10).topics)
        wanted = [
            NewTopic(topic, num_partitions=self.endpoint.partitions, replication_factor=1)
            for topic in self.endpoint.topics
            if topic not in existing
        ]
        if not wanted:
            return
        for topic, future in admin.create_topics(wanted, operation_timeout=30).items():
            try:
                future.result()
            except Exception as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise ServiceStartError(self.name, f"creating topic {topic} failed: {exc}") from exc
