"""Import and export the lakehouse's Superset dashboards: an assets bundle of YAML files (``bundle/``).

Run it with **Superset's own interpreter** (its venv: SQLAlchemy 1.4, pandas < 2.2 - it never
imports the project's packages), with ``SUPERSET_CONFIG_PATH`` naming the service's config::

    <superset venv>/bin/python dashboards/superset_assets.py import dashboards/bundle
    <superset venv>/bin/python dashboards/superset_assets.py export dashboards/bundle

``import`` reads every YAML file of the bundle (no zip), puts the installation's Trino connection
into the database file, then runs Superset's ``ImportAssetsCommand``, which overwrites every object
it names (same uuids, same ids: importing twice changes nothing). ``export`` writes Superset's
databases, datasets, charts and dashboards back as the bundle's files, normalised so that an
unchanged installation gives no git diff; files of objects deleted in Superset are removed.

Environment:
    SUPERSET_CONFIG_PATH        Superset's config (required)
    SUPERSET_ADMIN_USER         the Superset user that owns the objects (default: admin)
    DASHBOARDS_TRINO_URI        trino://user@host:port/catalog, no password (default: the bundle's)
    DASHBOARDS_TRINO_PASSWORD   the Trino user's password (or DASHBOARDS_TRINO_PASSWORD_FILE, a file
                                holding it); unset: a database already in Superset keeps its password
    DASHBOARDS_TRINO_CA_FILE    CA certificate(s) that verify Trino's HTTPS certificate
    DASHBOARDS_SCHEMA           the schema of the datasets (default: analytics)
    DASHBOARDS_DEBUG=1          tracebacks instead of one-line errors

Exit status: 0 done; 1 Superset failed (one line says why); 2 usage or environment error;
3 the bundle is broken (one line per problem, each naming its file). Passwords are read from the
environment only and never printed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from assets_bundle import (
    PASSWORD_MASK,
    BundleError,
    chart_refs,
    check_bundle,
    connect_args,
    dump_yaml,
    kind_of,
    load_bundle,
    read_bundle,
    uri_parts,
    with_password,
)
from bundle_export import normalise_export, remap_charts_in_scope

USAGE = "usage: superset_assets.py {import|export} <bundle_dir>"
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # would override the CA we give requests
SECRETS: list[str] = []  # scrubbed from any message printed


class UsageError(Exception):
    """Wrong arguments or environment: exit 2."""


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"import", "export"}:
        print(USAGE, file=sys.stderr)
        return 2
    verb, root = argv[0], Path(argv[1])
    try:
        if verb == "import":
            import_bundle(root)
        else:
            export_bundle(root)
    except UsageError as exc:
        print(f"superset_assets: {exc}", file=sys.stderr)
        return 2
    except BundleError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"superset_assets: {verb} refused: {len(exc.problems)} problem(s) in {root}", file=sys.stderr)
        return 3
    except Exception as exc:  # one line, no traceback (DASHBOARDS_DEBUG=1 shows it)
        if os.environ.get("DASHBOARDS_DEBUG") == "1":
            raise
        print(f"superset_assets: {verb} failed: {_reason(exc)}", file=sys.stderr)
        return 1
    return 0


# --- import -------------------------------------------------------------------------------------


def import_bundle(root: Path) -> None:
    started = time.monotonic()
    configs = _checked_bundle(root)
    settings = _import_settings()
    app = _superset_app()
    with app.app_context():
        from superset import db
        from superset.commands.exceptions import CommandInvalidError
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.models.core import Database

        _login(app)
        stored = {str(u) for u, p in db.session.query(Database.uuid, Database.password).all() if p}
        contents, passwords = localise(configs, settings, stored)
        command = ImportAssetsCommand(contents, passwords=passwords)
        try:
            command.validate()
        except CommandInvalidError as exc:
            raise BundleError(_prefixed(root, _flatten(exc.normalized_messages()))) from exc
        _tolerate_unreachable_trino()
        command.run()
        _fix_charts_in_scope(configs)
        db.session.commit()
        counts = _counts(configs)
    print(f"imported {root}: {counts} ({time.monotonic() - started:.1f} s)")


def _checked_bundle(root: Path) -> dict[str, dict[str, Any]]:
    configs, problems = load_bundle(read_bundle(root))
    problems += check_bundle(configs)
    if problems:
        raise BundleError(_prefixed(root, problems))
    return configs


def _import_settings() -> dict[str, str | None]:
    env = os.environ
    uri = env.get("DASHBOARDS_TRINO_URI") or None
    if uri is not None:
        if not uri.startswith("trino://"):
            raise UsageError("DASHBOARDS_TRINO_URI must be a trino:// URI")
        if uri_parts(uri)[1] is not None:
            raise UsageError("DASHBOARDS_TRINO_URI must not carry a password: use DASHBOARDS_TRINO_PASSWORD")
    password = env.get("DASHBOARDS_TRINO_PASSWORD") or None
    if password is None and env.get("DASHBOARDS_TRINO_PASSWORD_FILE"):
        path = Path(env["DASHBOARDS_TRINO_PASSWORD_FILE"])
        if not path.is_file():
            raise UsageError(f"DASHBOARDS_TRINO_PASSWORD_FILE: no file {path}")
        password = path.read_text(encoding="utf-8").strip() or None
    if password:
        SECRETS.append(password)
    ca_file = env.get("DASHBOARDS_TRINO_CA_FILE") or None
    if ca_file is not None:
        if not Path(ca_file).is_file():
            raise UsageError(f"DASHBOARDS_TRINO_CA_FILE: no file {ca_file}")
        ca_file = str(Path(ca_file).resolve())
        for name in CA_BUNDLE_VARIABLES:  # requests would verify Trino against these instead
            os.environ.pop(name, None)
    schema = env.get("DASHBOARDS_SCHEMA") or "analytics"
    return {"uri": uri, "password": password, "ca_file": ca_file, "schema": schema}


def localise(
    configs: dict[str, dict[str, Any]], settings: dict[str, str | None], stored: set[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The bundle's files with this installation's Trino connection, and the passwords by file.

    ``stored``: uuids of databases Superset already holds a password for (kept when none is given).
    """
    passwords: dict[str, str] = {}
    catalogs: dict[str, str] = {}
    for path, database in configs.items():
        if kind_of(path) != "databases" or not str(database["sqlalchemy_uri"]).startswith("trino"):
            continue
        if uri_parts(database["sqlalchemy_uri"])[1] is not None:
            raise BundleError([f"{path}: sqlalchemy_uri carries a password; it comes from the environment"])
        uri = settings["uri"] or database["sqlalchemy_uri"]
        if settings["password"]:
            passwords[path] = settings["password"]
        keep = settings["password"] or str(database["uuid"]) in stored
        database["sqlalchemy_uri"] = with_password(uri, PASSWORD_MASK) if keep else uri
        if settings["ca_file"]:
            connect_args(database)["verify"] = settings["ca_file"]
        catalogs[str(database["uuid"])] = uri_parts(uri)[2]
    for path, dataset in configs.items():
        if kind_of(path) == "datasets" and str(dataset["database_uuid"]) in catalogs:
            dataset["catalog"] = catalogs[str(dataset["database_uuid"])] or dataset.get("catalog")
            dataset["schema"] = settings["schema"]
    return {path: dump_yaml(config) for path, config in configs.items()}, passwords


def _tolerate_unreachable_trino() -> None:
    """Importing a database lists its catalogs and schemas to create Superset's access permissions
    (superset.commands.database.utils.add_permissions) and fails if Trino does not answer. The
    objects do not need Trino: import them anyway, and say that the permissions wait."""
    from superset.commands.database.importers.v1 import utils as database_import

    add_permissions = database_import.add_permissions

    def tolerant(database: Any) -> None:
        try:
            add_permissions(database)
        except Exception as exc:  # noqa: BLE001 - reported, and the import goes on
            print(
                f"superset_assets: warning: catalog and schema permissions of {database.database_name} not "
                f"synced (import again once Trino answers): {_reason(exc)}",
                file=sys.stderr,
            )

    database_import.add_permissions = tolerant


def _fix_charts_in_scope(configs: dict[str, dict[str, Any]]) -> None:
    """Superset's importer maps the bundle's chart ids everywhere but in ``chartsInScope``."""
    from superset import db
    from superset.models.dashboard import Dashboard
    from superset.utils import json as superset_json

    for path, config in configs.items():
        if kind_of(path) != "dashboards":
            continue
        dashboard = db.session.query(Dashboard).filter_by(uuid=str(config["uuid"])).one()
        installed = {str(chart.uuid): chart.id for chart in dashboard.slices}
        id_map = {
            int(meta["chartId"]): installed[str(meta["uuid"])]
            for _, meta in chart_refs(config["position"])
            if str(meta["uuid"]) in installed
        }
        metadata = json.loads(dashboard.json_metadata or "{}")
        remap_charts_in_scope(metadata, id_map)
        dashboard.json_metadata = superset_json.dumps(metadata)


def _counts(configs: dict[str, dict[str, Any]]) -> str:
    from superset import db
    from superset.connectors.sqla.models import SqlaTable
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice

    models = {"databases": Database, "datasets": SqlaTable, "charts": Slice, "dashboards": Dashboard}
    parts = []
    for kind, model in models.items():
        uuids = [str(c["uuid"]) for p, c in configs.items() if kind_of(p) == kind]
        found = db.session.query(model).filter(model.uuid.in_(uuids)).count() if uuids else 0
        parts.append(f"{kind}: {found}")
    return ", ".join(parts)


# --- export -------------------------------------------------------------------------------------


def export_bundle(root: Path) -> None:
    started = time.monotonic()
    previous = load_bundle(read_bundle(root))[0] if root.is_dir() else {}
    app = _superset_app()
    with app.app_context():
        from superset.commands.export.assets import ExportAssetsCommand

        _login(app)
        exported = {name: content() for name, content in ExportAssetsCommand().run()}
    files = normalise_export(exported, previous)
    written = removed = 0
    for relative, text in sorted(files.items()):
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written += 1
    for relative in read_bundle(root):
        if relative not in files:
            (root / relative).unlink()
            removed += 1
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            directory.rmdir()  # only empty ones go
    took = time.monotonic() - started
    print(f"exported to {root}: {len(files)} files, {written} written, {removed} removed ({took:.1f} s)")


# --- Superset -----------------------------------------------------------------------------------


def _superset_app() -> Any:
    config = os.environ.get("SUPERSET_CONFIG_PATH")
    if not config or not Path(config).is_file():
        raise UsageError("SUPERSET_CONFIG_PATH must name Superset's config file")
    with contextlib.redirect_stdout(sys.stderr):  # Superset prints which config it loaded
        from superset.app import create_app

        app = create_app()
    if os.environ.get("DASHBOARDS_DEBUG") != "1":
        for name in ("", "superset", "flask_appbuilder", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
    # Schema errors are reported here, one line each; Superset's importer would log them with
    # tracebacks, and at DEBUG the whole file - a database's with its password.
    logging.getLogger("superset.commands.importers.v1.utils").setLevel(logging.CRITICAL)
    return app


def _login(app: Any) -> None:
    from flask import g
    from superset import security_manager

    name = os.environ.get("SUPERSET_ADMIN_USER") or "admin"
    user = security_manager.find_user(username=name)
    if user is None:
        raise UsageError(f"no Superset user {name!r} (SUPERSET_ADMIN_USER): create it first")
    g.user = user


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    """marshmallow's nested messages ({file: {field: [message]}}) as 'file: field: message' lines."""
    if isinstance(messages, dict):
        lines = []
        for key, value in messages.items():
            lines += _flatten(value, f"{prefix}: {key}" if prefix else str(key))
        return lines
    if isinstance(messages, list | tuple):
        return [line for value in messages for line in _flatten(value, prefix)]
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def _prefixed(root: Path, problems: list[str]) -> list[str]:
    prefix = f"{root.as_posix().rstrip('/')}/"
    return [p if p.startswith(str(root)) else prefix + p for p in problems]


def _reason(exc: BaseException) -> str:
    """The innermost cause's message, on one line (Superset wraps errors in ImportFailedError)."""
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:  # cause chains can loop
        exc = exc.__cause__
        seen.add(id(exc))
    text = " ".join(str(getattr(exc, "message", "") or exc).split()) or type(exc).__name__
    for secret in SECRETS:
        text = text.replace(secret, "***")
    return f"{type(exc).__name__}: {text}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
