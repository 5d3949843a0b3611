"""Kafka: a single-node KRaft broker (broker and controller in one process)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from core import clients
from core.exceptions import ENV_PREFIX, ServiceStartError
from core.settings import KafkaSettings, LakehouseSettings
from infra import kafka_access
from infra.kafka_access import KafkaAccessError
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


# The broker reads the admin password from its environment (Kafka's EnvVarConfigProvider), so
# server.properties holds no secret; the provider may read this one variable and no other.
ADMIN_PASSWORD_ENV = f"{ENV_PREFIX}KAFKA__ADMIN_PASSWORD"
# Written beside the KRaft storage once it was formatted with the admin's SCRAM credential.
ADMIN_BOOTSTRAPPED = "admin-credential.bootstrapped"
# The JMX agent's rules: which MBeans become which series (read by the agent at start).
JMX_RULES = Path(__file__).resolve().parents[1] / "kafka" / "jmx-exporter.yaml"


def render_server_properties(settings: LakehouseSettings, log_dir: Path) -> str:
    """server.properties of the single-node broker: SASL on both loopback listeners, ACLs on."""
    k = settings.kafka
    admin, secret = k.admin_user, f"${{env:{ADMIN_PASSWORD_ENV}}}"
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{k.host}:{k.controller_port}
# BROKER: clients and inter-broker traffic, SCRAM-SHA-512 (credentials in the metadata log).
# CONTROLLER: the broker's own link to its controller quorum. SCRAM cannot serve it (the
# controller must authenticate before it has read the metadata log), so it takes PLAIN with one
# user, the admin, from this file's JAAS entry. Not PLAINTEXT: the broker would reach its
# controller as ANONYMOUS, which would then need super user rights, and so would any local
# process that connects to the controller port.
listeners=BROKER://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port}
advertised.listeners=BROKER://{k.host}:{k.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=BROKER
listener.security.protocol.map=BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
listener.name.broker.sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.broker.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
  required username="{admin}" password="{secret}";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \
  required username="{admin}" password="{secret}" user_{admin}="{secret}";
config.providers=env
config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
config.providers.env.param.allowlist.pattern=^{ADMIN_PASSWORD_ENV}$
# Deny by default; the admin is the only super user. The launcher grants the others ACLs.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:{admin}
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
        ports = [
            Port(self.endpoint.port, "LAKEHOUSE_KAFKA__PORT"),
            Port(self.endpoint.controller_port, "LAKEHOUSE_KAFKA__CONTROLLER_PORT"),
        ]
        if self.settings.monitoring.enabled:
            ports.append(
                Port(self.settings.monitoring.kafka_jmx.port, "LAKEHOUSE_MONITORING__KAFKA_JMX__PORT")
            )
        return ports

    def url(self) -> str:
        return f"kafka://{self.endpoint.bootstrap_servers}"

    def install(self) -> None:
        self.artifacts.ensure_kafka()
        if self.settings.monitoring.enabled:
            self.artifacts.ensure_kafka_jmx_agent()

    def _jmx_agent(self) -> list[str]:
        """The Prometheus JMX agent's option: the broker serves its metrics on 127.0.0.1."""
        if not self.settings.monitoring.enabled:
            return []
        agent = self.artifacts.ensure_kafka_jmx_agent()
        return [
            f"-javaagent:{agent}={self.endpoint.host}:{self.settings.monitoring.kafka_jmx.port}:{JMX_RULES}"
        ]

    def startup_timeout(self) -> float:
        return 120.0

    def _java(self, main: str, *args: str, agent: list[str] | None = None) -> list[str]:
        conf = self.conf_dir
        return [
            str(java_binary(self.settings)),
            f"-Xmx{self.endpoint.heap}",
            f"-Xms{self.endpoint.heap}",
            *JVM_OPTIONS,
            *(agent or []),
            f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
            "-cp",
            str(self.artifacts.kafka_libs() / "*"),
            main,
            *args,
        ]

    def start(self) -> None:
        k = self.endpoint
        # Every identity's password is needed before the broker runs: fail now, naming the variable.
        admin_password = k.require_password("admin")
        for identity in ("producer", "stream"):
            k.require_password(identity)
        conf = self.conf_dir
        conf.mkdir(parents=True, exist_ok=True)
        log_dir = self.data_dir / "kraft"
        server_properties = conf / "server.properties"
        server_properties.write_text(render_server_properties(self.settings, log_dir))
        (conf / "log4j2.properties").write_text(LOG4J2)
        bootstrapped = self.data_dir / ADMIN_BOOTSTRAPPED
        if not (log_dir / "meta.properties").exists():
            self._format(server_properties, admin_password)
            bootstrapped.write_text(f"{k.admin_user}\n")
        elif not bootstrapped.exists() or bootstrapped.read_text().strip() != k.admin_user:
            raise ServiceStartError(
                self.name,
                f"the KRaft storage in {log_dir} holds no SCRAM credential for the admin user "
                f"{k.admin_user!r} (formatted before authentication, or for another admin user), so "
                "no client could authenticate. Kafka only buffers events for the stream: stop the "
                f"stream, delete {self.data_dir} and the stream checkpoints "
                f"({self.settings.checkpoints_dir}), then `make up` formats it again",
            )
        self.process.start(
            self._java("kafka.Kafka", str(server_properties), agent=self._jmx_agent()),
            env=self._env_with(**{ADMIN_PASSWORD_ENV: admin_password}),
        )

    def _format(self, server_properties: Path, admin_password: str) -> None:
        """Format the KRaft storage with the admin's SCRAM credential in its bootstrap metadata.

        The storage tool takes the credential as an argument only: the arguments go through
        stdin (``@/dev/stdin``, an argument file for argparse4j), never argv, which any local
        user can read in ``ps``.
        """
        k = self.endpoint
        arguments = [
            "format",
            # `--cluster-id=<id>`: an id may start with "-", which would read as an option.
            f"--cluster-id={new_cluster_id()}",
            "--config",
            str(server_properties),
            "--add-scram",
            f"SCRAM-SHA-512=[name={k.admin_user},password={admin_password}]",
        ]
        result = run_checked(
            self._java("kafka.tools.StorageTool", "@/dev/stdin"), input_text="\n".join(arguments) + "\n"
        )
        if result.returncode != 0:
            # Its output quotes no password (the credential is printed salted and hashed), but
            # neither is it needed: the last lines name the problem.
            output = "\n".join(f"{result.stdout}{result.stderr}".splitlines()[-15:])
            raise ServiceStartError(self.name, f"formatting the KRaft storage failed:\n{output}")

    def check(self) -> Health:
        from confluent_kafka.admin import AdminClient

        # A refused connection is the expected answer while the broker starts: librdkafka would
        # print each retry to stderr (level 3), so only its critical messages are let through.
        admin = AdminClient(clients.kafka_config(self.settings, "admin", log_level=2))
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy" here
            return Health(False, str(exc))
        return Health(True, f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topics")

    def provision(self) -> None:
        """Create the topics; on the managed broker also the producer and stream users and
        their ACLs (``infra.kafka_access``). Idempotent: run on every `up`."""
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient(clients.kafka_config(self.settings, "admin"))
        existing = set(admin.list_topics(timeout=10).topics)
        wanted = [
            NewTopic(
                topic,
                num_partitions=self.endpoint.partitions,
                replication_factor=self.endpoint.replication_factor,
            )
            for topic in self.endpoint.topics
            if topic not in existing
        ]
        if wanted:
            for topic, future in admin.create_topics(wanted, operation_timeout=30).items():
                try:
                    future.result()
                except Exception as exc:
                    if "TOPIC_ALREADY_EXISTS" not in str(exc):
                        raise ServiceStartError(self.name, f"creating topic {topic} failed: {exc}") from exc
        if self.managed:
            # An external cluster's users and ACLs are its operators' to manage.
            try:
                kafka_access.provision_identities(self.settings)
            except KafkaAccessError as exc:
                raise ServiceStartError(self.name, str(exc)) from exc
