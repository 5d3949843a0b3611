"""The dashboards' Superset asset bundle as files: read it, check it, write it in one canonical form.

Pure Python and PyYAML only - no Superset, no project package - so that both Superset's own
interpreter (``superset_assets.py``) and the project's tests use the same reading and checks.

A bundle is a directory (committed unzipped)::

    metadata.yaml                      version: 1.0.0, type: assets
    databases/<name>.yaml              the Trino connection (no password, no installation paths)
    datasets/<database>/<table>.yaml   physical or virtual (sql) datasets
    charts/<name>.yaml                 each with params and a saved query_context
    dashboards/<name>.yaml             position (CHART meta carries the chart uuid) and metadata

Objects link by uuid. Dashboards also hold *bundle* chart ids (position ``chartId``, native
filter scopes): numbers that only have to agree within the bundle; an import maps them to the
installation's ids and an export maps them back (``normalise_export``).
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import yaml

METADATA = "metadata.yaml"
VERSION = "1.0.0"
KINDS = ("databases", "datasets", "charts", "dashboards")
REQUIRED: dict[str, tuple[str, ...]] = {
    "databases": ("database_name", "sqlalchemy_uri", "uuid", "version"),
    "datasets": ("table_name", "uuid", "database_uuid", "version"),
    "charts": ("slice_name", "viz_type", "uuid", "dataset_uuid", "version", "params", "query_context"),
    "dashboards": ("dashboard_title", "uuid", "version", "position", "metadata"),
}
PASSWORD_MASK = "X" * 10  # superset.constants.PASSWORD_MASK: "keep the stored password"
# Keys that carry an installation's ids or are derived on every page load: never committed.
VOLATILE_PARAMS = ("datasource", "slice_id", "dashboards", "url_params")
DERIVED_DASHBOARD_METADATA = ("map_label_colors", "shared_label_colors", "color_scheme_domain")


class BundleError(Exception):
    """A bundle that cannot be imported; ``problems`` has one line per problem, each naming its file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the bundle")
        self.problems = problems


# --- canonical YAML ---------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Sorted keys, block style, multi-line strings (SQL, query contexts) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=100, indent=2)


def canonical_json(value: str | dict[str, Any]) -> str:
    """A JSON document (a chart's query_context) as indented, key-sorted text: diffable."""
    data = json.loads(value) if isinstance(value, str) else value
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- reading and checking ---------------------------------------------------------------------


def is_bundle_file(relative: str) -> bool:
    """What Superset's importer reads: YAML files, hidden and ``_`` files left out."""
    path = PurePosixPath(relative)
    return path.suffix.lower() in {".yaml", ".yml"} and not path.name.startswith((".", "_"))


def read_bundle(root: Path) -> dict[str, str]:
    """Every YAML file under ``root`` as {relative posix path: text}."""
    if not root.is_dir():
        raise BundleError([f"{root}: not a directory"])
    contents = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and is_bundle_file(relative):
            contents[relative] = path.read_text(encoding="utf-8")
    return contents


def load_bundle(contents: dict[str, str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Parse every file; returns the configs that parsed as mappings and one problem per other file."""
    configs: dict[str, dict[str, Any]] = {}
    problems = []
    for path, text in contents.items():
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problems.append(f"{path}: not valid YAML: {getattr(exc, 'problem', None) or exc}{where}")
            continue
        if not isinstance(data, dict):
            problems.append(f"{path}: expected a mapping of fields, found {type(data).__name__}")
            continue
        configs[path] = data
    return configs, problems


def kind_of(path: str) -> str | None:
    head = path.split("/", 1)[0]
    return head if head in KINDS and "/" in path else None


def chart_refs(position: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(component id, meta) of every CHART component of a dashboard position."""
    return [
        (key, node.get("meta") or {})
        for key, node in position.items()
        if isinstance(node, dict) and node.get("type") == "CHART"
    ]


def check_bundle(configs: dict[str, dict[str, Any]]) -> list[str]:
    """Fields, uuids and the links between files; one line per problem, each naming its file."""
    problems: list[str] = []
    meta = configs.get(METADATA)
    if meta is None:
        problems.append(
            f"{METADATA}: missing (an assets bundle starts with version: {VERSION}, type: assets)"
        )
    elif str(meta.get("version")) != VERSION or meta.get("type") != "assets":
        problems.append(f"{METADATA}: expected version: {VERSION} and type: assets")
    owners: dict[str, str] = {}
    by_kind: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    for path, config in sorted(configs.items()):
        if path == METADATA:
            continue
        kind = kind_of(path)
        if kind is None:
            problems.append(f"{path}: not part of an assets bundle (expected under {', '.join(KINDS)})")
            continue
        problems += [f"{path}: missing field '{f}'" for f in REQUIRED[kind] if config.get(f) in (None, "")]
        value = config.get("uuid")
        if value is None:
            continue
        if not _is_uuid(value):
            problems.append(f"{path}: uuid {value!r} is not a UUID")
            continue
        value = str(value)
        if value in owners:
            problems.append(f"{path}: uuid {value} is also the uuid of {owners[value]}")
            continue
        owners[value] = path
        by_kind[kind][value] = path
    for path, config in sorted(configs.items()):
        kind = kind_of(path)
        if kind == "datasets":
            problems += _dangling(path, "database_uuid", config.get("database_uuid"), by_kind["databases"])
        elif kind == "charts":
            problems += _dangling(path, "dataset_uuid", config.get("dataset_uuid"), by_kind["datasets"])
            problems += _check_chart(path, config)
        elif kind == "dashboards":
            problems += _check_dashboard(path, config, by_kind)
    return problems


def _is_uuid(value: object) -> bool:
    try:
        uuidlib.UUID(str(value))
    except ValueError:
        return False
    return True


def _dangling(path: str, field: str, value: object, targets: dict[str, str]) -> list[str]:
    if value is None or str(value) in targets:
        return []
    kind = field.removesuffix("_uuid")
    return [f"{path}: {field} {value} is not the uuid of any {kind} in the bundle"]


def _check_chart(path: str, config: dict[str, Any]) -> list[str]:
    problems = []
    if "params" in config and not isinstance(config["params"], dict):
        problems.append(f"{path}: params must be a mapping")
    context = config.get("query_context")
    if context is not None:
        try:
            parsed = json.loads(context) if isinstance(context, str) else None
        except json.JSONDecodeError as exc:
            problems.append(f"{path}: query_context is not valid JSON: {exc}")
        else:
            if not isinstance(parsed, dict) or not isinstance(parsed.get("queries"), list):
                problems.append(f"{path}: query_context must be a JSON object with a list of queries")
    return problems


def _check_dashboard(path: str, config: dict[str, Any], by_kind: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    position, metadata = config.get("position"), config.get("metadata")
    if position is not None and not isinstance(position, dict):
        return [f"{path}: position must be a mapping"]
    for key, meta in chart_refs(position or {}):
        ref = meta.get("uuid")
        if ref is None:
            problems.append(f"{path}: position {key} has no chart uuid in its meta")
        elif str(ref) not in by_kind["charts"]:
            problems.append(f"{path}: position {key} names chart {ref}, which is not in the bundle")
        if not isinstance(meta.get("chartId"), int):
            problems.append(f"{path}: position {key} has no integer chartId in its meta")
    if metadata is not None and not isinstance(metadata, dict):
        return [*problems, f"{path}: metadata must be a mapping"]
    for native in (metadata or {}).get("native_filter_configuration") or []:
        for target in native.get("targets") or []:
            ref = target.get("datasetUuid")
            if ref is not None and str(ref) not in by_kind["datasets"]:
                problems.append(
                    f"{path}: native filter {native.get('name')!r} targets dataset {ref}, "
                    "which is not in the bundle"
                )
    return problems


# --- database URIs ----------------------------------------------------------------------------


def uri_parts(uri: str) -> tuple[str, str | None, str]:
    """(user, password, catalog) of a trino://user[:password]@host:port/catalog[/schema] URI."""
    parts = urlsplit(uri)
    path = [p for p in parts.path.split("/") if p]
    user = unquote(parts.username) if parts.username else ""
    password = unquote(parts.password) if parts.password is not None else None
    return user, password, path[0] if path else ""


def with_password(uri: str, password: str | None) -> str:
    """``uri`` with ``password`` (or none) in its user info."""
    parts = urlsplit(uri)
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    if user:
        userinfo = f"{user}:{quote(password, safe='')}" if password is not None else user
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def connect_args(database: dict[str, Any]) -> dict[str, Any]:
    """The database's ``extra.engine_params.connect_args``, created if missing."""
    extra = database.setdefault("extra", {}) or {}
    database["extra"] = extra
    engine = extra.setdefault("engine_params", {})
    return engine.setdefault("connect_args", {})


# --- normalising an export ----------------------------------------------------------------------

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A file name for an object: lower case, words joined by '_' ("New Year's Eve" -> new_years_eve)."""
    return _SLUG.sub("_", name.lower().replace("'", "")).strip("_") or "unnamed"
