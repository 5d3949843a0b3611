"""Least privilege in storage, tried over real connections to the S3 server our launcher runs
(MinIO, or versitygw with LAKEHOUSE_S3__SERVER=versitygw: `make test` runs this module on both).

Each engine signs as its own user, allowed the warehouse bucket only; the reader may list and
read it, nothing else; the server's root identity stays with the launcher.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from minio import Minio
from minio.error import S3Error
from pydantic import SecretStr

from app.stream_control import start_job
from core import clients
from core.service_settings import S3Identity
from core.settings import LakehouseSettings
from infra import kafka_access
from infra.launcher import Launcher
from infra.process import ManagedProcess
from infra.services import object_store_type
from tests.integration.conftest import unique

# Run again on versitygw by `make test` (LAKEHOUSE_S3__SERVER): each S3 server must pass.
pytestmark = pytest.mark.object_store

ENGINES = ("lakehouse", "trino", "spark")


def as_(settings: LakehouseSettings, engine: str) -> Minio:
    return clients.s3_client(settings, settings.s3.identity(engine))  # type: ignore[arg-type]


def refused(call: Callable[[], object]) -> str:
    """The S3 error code of a refused request (fails the test if the request succeeds)."""
    with pytest.raises(S3Error) as caught:
        call()
    return caught.value.code


def put(client: Minio, bucket: str, name: str, data: bytes = b"cdr") -> None:
    client.put_object(bucket, name, io.BytesIO(data), len(data))


def read(client: Minio, bucket: str, name: str) -> bytes:
    response = client.get_object(bucket, name)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


@pytest.fixture(scope="module")
def other_bucket(settings: LakehouseSettings) -> Iterator[str]:
    """A second bucket, created by root (the launcher's identity), holding one object."""
    root = clients.s3_client(settings, settings.s3.root())
    bucket = unique("other").replace("_", "-")
    root.make_bucket(bucket)
    put(root, bucket, "secret.txt", b"not for the lakehouse")
    yield bucket
    root.remove_object(bucket, "secret.txt")
    root.remove_bucket(bucket)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_engine_reads_writes_and_deletes_in_the_warehouse(
    settings: LakehouseSettings, engine: str
) -> None:
    client, bucket = as_(settings, engine), settings.s3.bucket
    name = f"{unique('it_s3')}/{engine}.bin"
    put(client, bucket, name, b"x" * 1024)
    assert read(client, bucket, name) == b"x" * 1024
    assert [o.object_name for o in client.list_objects(bucket, prefix=name)] == [name]
    client.remove_object(bucket, name)
    assert refused(lambda: client.stat_object(bucket, name)) == "NoSuchKey"


@pytest.mark.parametrize("engine", ENGINES)
def test_an_engine_cannot_create_or_touch_another_bucket(
    settings: LakehouseSettings, other_bucket: str, engine: str
) -> None:
    client = as_(settings, engine)
    assert refused(lambda: client.make_bucket(unique("mine").replace("_", "-"))) == "AccessDenied"
    assert refused(lambda: read(client, other_bucket, "secret.txt")) == "AccessDenied"
    assert refused(lambda: put(client, other_bucket, "planted.txt")) == "AccessDenied"
    assert refused(lambda: client.remove_object(other_bucket, "secret.txt")) == "AccessDenied"
    assert refused(lambda: list(client.list_objects(other_bucket))) == "AccessDenied"
    # Any user may list buckets, but no other bucket is shown: MinIO lists those its policy
    # allows (the warehouse), versitygw those the user owns (none: root owns the warehouse).
    listed = [b.name for b in client.list_buckets()]
    assert other_bucket not in listed and set(listed) <= {settings.s3.bucket}


def test_the_reader_lists_and_reads_but_cannot_write_or_delete(
    settings: LakehouseSettings, other_bucket: str
) -> None:
    bucket, name = settings.s3.bucket, f"{unique('it_s3')}/kept.bin"
    put(as_(settings, "lakehouse"), bucket, name, b"data")
    reader = as_(settings, "reader")
    assert read(reader, bucket, name) == b"data"
    assert [o.object_name for o in reader.list_objects(bucket, prefix=name)] == [name]
    assert refused(lambda: put(reader, bucket, f"{name}.planted")) == "AccessDenied"
    assert refused(lambda: put(reader, bucket, name, b"overwritten")) == "AccessDenied"
    assert refused(lambda: reader.remove_object(bucket, name)) == "AccessDenied"
    assert read(reader, bucket, name) == b"data"
    assert refused(lambda: read(reader, other_bucket, "secret.txt")) == "AccessDenied"


def listing_refused(settings: LakehouseSettings, identity: S3Identity) -> str:
    """The error code of a listing of the warehouse as ``identity`` (a GET: a refused HEAD has no
    body, so its code does not tell a wrong secret from a missing right)."""
    client = clients.s3_client(settings, identity)
    return refused(lambda: list(client.list_objects(settings.s3.bucket)))


def test_a_wrong_secret_or_an_unknown_key_is_refused(settings: LakehouseSettings) -> None:
    good = settings.s3.identity("lakehouse")
    wrong = S3Identity("lakehouse", good.access_key, SecretStr(secrets.token_urlsafe(24)), good.variable)
    unknown = S3Identity("nobody", "nobody-at-all", SecretStr(secrets.token_urlsafe(24)), "-")
    assert listing_refused(settings, wrong) == "SignatureDoesNotMatch"
    assert listing_refused(settings, unknown) == "InvalidAccessKeyId"


def test_provisioning_again_is_harmless_and_applies_a_changed_secret(
    launcher: Launcher, settings: LakehouseSettings
) -> None:
    store = launcher.service(settings.s3.server)
    store.provision()  # the same users, access and secrets: nothing changes
    assert as_(settings, "reader").bucket_exists(settings.s3.bucket)

    new_secret = SecretStr(secrets.token_urlsafe(24))
    rotated = settings.model_copy(
        update={"s3": settings.s3.model_copy(update={"spark_secret_key": new_secret})}
    )
    try:
        object_store_type(rotated)(rotated, store.artifacts).provision()  # `make up` after an edit of .env
        assert as_(rotated, "spark").bucket_exists(settings.s3.bucket)
        assert listing_refused(settings, settings.s3.identity("spark")) == "SignatureDoesNotMatch"
    finally:
        store.provision()  # back to the session's secret
    assert as_(settings, "spark").bucket_exists(settings.s3.bucket)


def _environ(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def _with_descendants(pid: int) -> list[int]:
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]


def _environ_and_argv(pid: int) -> tuple[str, bytes, str]:
    """Name, environment and command line of a process (empty if it ended meanwhile: a driver
    runs short-lived helpers)."""
    try:
        process = psutil.Process(pid)
        return process.name(), _environ(pid), " ".join(process.cmdline())
    except (psutil.NoSuchProcess, ProcessLookupError, FileNotFoundError):
        return "", b"", ""


def test_trino_gets_its_own_s3_secrets_and_never_root(
    launcher: Launcher, settings: LakehouseSettings
) -> None:
    s3 = settings.s3
    pid = launcher.service("trino").process.pid()
    assert pid is not None
    environ = b"".join(_environ(p) for p in _with_descendants(pid))
    root = s3.root().secret().encode()
    assert root not in environ
    assert s3.identity("trino").secret().encode() in environ  # the check reads the right place
    for engine in ("lakehouse", "spark"):
        assert s3.identity(engine).secret().encode() not in environ  # type: ignore[arg-type]
    # The S3 server is the one process started with root (and only through its environment).
    store_pid = launcher.service(settings.s3.server).process.pid()
    assert store_pid is not None and root in _environ(store_pid)
    assert all(root not in arg.encode() for arg in psutil.Process(store_pid).cmdline())


def test_the_spark_job_gets_its_own_s3_secret_and_never_root(settings: LakehouseSettings) -> None:
    topic = unique("it.s3sec")
    admin = AdminClient(clients.kafka_config(settings, "admin"))  # kept alive: its futures need it
    admin.create_topics([NewTopic(topic, num_partitions=settings.kafka.partitions, replication_factor=1)])[
        topic
    ].result(30)
    kafka_access.grant_topic(settings, topic)  # the job reads it as the stream identity
    # Its own namespaces: the job creates its tables, the other tests' stay as they are.
    own = settings.model_copy(
        update={
            "namespaces": settings.namespaces.model_copy(
                update={"raw": "it_s3sec", "analytics": "it_s3sec_a"}
            )
        }
    )
    job = ManagedProcess(f"job-{topic}", own.run_dir / f"job-{topic}.pid", own.logs_dir / f"{topic}.log")
    start_job(job, own, topic)
    try:
        pid = job.pid()
        assert pid is not None
        processes = [_environ_and_argv(p) for p in _with_descendants(pid)]
        assert any("java" in name for name, _, _ in processes), "no Spark JVM found"
        root, spark = settings.s3.root().secret(), settings.s3.identity("spark").secret()
        for _, environ, argv in processes:
            assert root.encode() not in environ
            assert root not in argv and spark not in argv
    finally:
        job.stop(timeout=60)


def test_no_s3_secret_is_in_any_log_or_rendered_config(settings: LakehouseSettings) -> None:
    """After the tests above (a Spark job included): the stack's logs, configs and run files."""
    s3 = settings.s3
    values = [s3.root().secret(), *(s3.identity(e).secret() for e in (*ENGINES, "reader"))]  # type: ignore[arg-type]
    files = [
        path
        for place in (settings.logs_dir, settings.conf_dir, settings.run_dir)
        for path in place.rglob("*")
        if path.is_file()
    ]
    assert any(path.name == f"{s3.server}.log" for path in files) and any(
        p.name == "trino.log" for p in files
    )
    assert not [str(path) for path in files for value in values if value.encode() in path.read_bytes()]
