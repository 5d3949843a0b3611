"""Superset's export of the dashboards, normalised into this bundle's files (no Superset import here).

An export of an unchanged installation must give no git diff, so it is written over the bundle
it came from (``previous``): every object keeps its file, the database its committed URI and CA
placeholder, datasets their catalog and schema, and dashboards their *bundle* chart ids. What
changes from one installation or page load to the next is dropped: timestamps, the installation's
ids (``params.datasource``, ``slice_id``, ...), colours Superset derives when a dashboard opens.
"""

from __future__ import annotations

import json
from typing import Any

from assets_bundle import (
    DERIVED_DASHBOARD_METADATA,
    KINDS,
    METADATA,
    VERSION,
    VOLATILE_PARAMS,
    canonical_json,
    chart_refs,
    connect_args,
    dump_yaml,
    kind_of,
    load_bundle,
    slug,
    with_password,
)


def normalise_export(exported: dict[str, str], previous: dict[str, dict[str, Any]]) -> dict[str, str]:
    """{path: text} of the bundle that ``exported`` (Superset's files) is, written over ``previous``."""
    configs, _ = load_bundle(exported)  # Superset's own YAML: it parses
    before = {str(c["uuid"]): (path, c) for path, c in previous.items() if c.get("uuid")}
    canonical = _canonical_chart_ids(previous, configs)
    out: dict[str, dict[str, Any]] = {METADATA: {"type": "assets", "version": VERSION}}
    stems: dict[str, str] = {}  # database uuid -> its file's stem (datasets live under it)
    order = sorted((path for path in configs if kind_of(path)), key=lambda p: KINDS.index(kind_of(p)))
    charts = {str(c["uuid"]) for p, c in configs.items() if kind_of(p) == "charts"}
    for path in order:
        kind, config = kind_of(path), configs[path]
        uuid = str(config["uuid"])
        prior_path, prior = before.get(uuid, (None, None))
        if kind == "databases":
            _database(config, prior)
            default = f"databases/{slug(config['database_name'])}.yaml"
        elif kind == "datasets":
            _dataset(config, prior)
            stem = stems.get(str(config["database_uuid"]), "database")
            default = f"datasets/{stem}/{slug(config['table_name'])}.yaml"
        elif kind == "charts":
            _chart(config)
            default = f"charts/{slug(config['slice_name'])}.yaml"
        else:
            _dashboard(config, canonical, charts)
            default = f"dashboards/{slug(config['dashboard_title'])}.yaml"
        target = prior_path if prior_path and kind_of(prior_path) == kind else default
        if target in out:
            target = f"{target.removesuffix('.yaml')}_{uuid[:8]}.yaml"
        out[target] = config
        if kind == "databases":
            stems[uuid] = target.rsplit("/", 1)[-1].removesuffix(".yaml")
    return {path: dump_yaml(config) for path, config in out.items()}


def _database(config: dict[str, Any], prior: dict[str, Any] | None) -> None:
    config.pop("password", None)
    args = connect_args(config)
    if prior is not None:
        config["sqlalchemy_uri"] = prior["sqlalchemy_uri"]
        before = ((prior.get("extra") or {}).get("engine_params") or {}).get("connect_args") or {}
        if "verify" in before:
            args["verify"] = before["verify"]
        else:
            args.pop("verify", None)
    else:
        config["sqlalchemy_uri"] = with_password(config["sqlalchemy_uri"], None)
        if isinstance(args.get("verify"), str):  # an installation's CA file
            args["verify"] = True


def _dataset(config: dict[str, Any], prior: dict[str, Any] | None) -> None:
    if prior is not None:
        config["catalog"], config["schema"] = prior.get("catalog"), prior.get("schema")
    config["columns"] = sorted(config.get("columns") or [], key=lambda c: str(c["column_name"]))
    config["metrics"] = sorted(config.get("metrics") or [], key=lambda m: str(m["metric_name"]))


def _chart(config: dict[str, Any]) -> None:
    params = config.get("params")
    if isinstance(params, dict):
        for key in VOLATILE_PARAMS:
            params.pop(key, None)
    context = config.get("query_context")
    if isinstance(context, str):
        try:
            data = json.loads(context)
        except json.JSONDecodeError:
            return
        data.pop("datasource", None)
        for key in VOLATILE_PARAMS:
            (data.get("form_data") or {}).pop(key, None)
        for query in data.get("queries") or []:
            query.pop("datasource", None)
        config["query_context"] = canonical_json(data)


def _dashboard(config: dict[str, Any], canonical: dict[str, int], charts: set[str]) -> None:
    _drop_deleted_charts(config.get("position") or {}, charts)
    refs = chart_refs(config.get("position") or {})
    id_map = {
        int(meta["chartId"]): canonical[str(meta["uuid"])]
        for _, meta in refs
        if meta.get("uuid") and isinstance(meta.get("chartId"), int)
    }
    for _, meta in refs:
        if meta.get("uuid"):
            meta["chartId"] = canonical[str(meta["uuid"])]
    metadata = config.get("metadata") or {}
    for key in DERIVED_DASHBOARD_METADATA:
        metadata.pop(key, None)
    remap_chart_ids(metadata, id_map)


def _drop_deleted_charts(position: dict[str, Any], charts: set[str]) -> None:
    """Deleting a chart leaves it in the layout of its dashboards until they are saved again:
    drop such components, and the rows or columns they leave empty, as that save would."""
    gone = {key for key, meta in chart_refs(position) if meta.get("uuid") and str(meta["uuid"]) not in charts}
    while gone:
        for key in gone:
            position.pop(key, None)
        for node in position.values():
            if isinstance(node, dict) and isinstance(node.get("children"), list):
                node["children"] = [child for child in node["children"] if child not in gone]
        gone = {
            key
            for key, node in position.items()
            if isinstance(node, dict) and node.get("type") in {"ROW", "COLUMN"} and not node.get("children")
        }


def _canonical_chart_ids(
    previous: dict[str, dict[str, Any]], exported: dict[str, dict[str, Any]]
) -> dict[str, int]:
    """Chart uuid -> bundle chart id: the previous bundle's, then the next free numbers."""
    canonical: dict[str, int] = {}
    for path, config in sorted(previous.items()):
        if kind_of(path) == "dashboards":
            for _, meta in chart_refs(config.get("position") or {}):
                if meta.get("uuid") and isinstance(meta.get("chartId"), int):
                    canonical.setdefault(str(meta["uuid"]), meta["chartId"])
    fresh = sorted(
        {
            str(meta["uuid"])
            for path, config in exported.items()
            if kind_of(path) == "dashboards"
            for _, meta in chart_refs(config.get("position") or {})
            if meta.get("uuid")
        }
        - set(canonical)
    )
    start = max(canonical.values(), default=0) + 1
    canonical.update({uuid: start + n for n, uuid in enumerate(fresh)})
    return canonical


def _ids(values: Any, id_map: dict[int, int]) -> list[int]:
    """Chart ids mapped through ``id_map`` (ids it does not know - deleted charts - dropped), sorted."""
    out = []
    for value in values or []:
        try:
            key = int(value)
        except (TypeError, ValueError):
            continue
        if key in id_map:
            out.append(id_map[key])
    return sorted(set(out))


def remap_charts_in_scope(metadata: dict[str, Any], id_map: dict[int, int]) -> None:
    """The ``chartsInScope`` lists, which Superset's importer leaves with the bundle's ids."""
    for item in [
        *(metadata.get("native_filter_configuration") or []),
        *(metadata.get("chart_customization_config") or []),
        *[c.get("crossFilters") or {} for c in (metadata.get("chart_configuration") or {}).values()],
        metadata.get("global_chart_configuration") or {},
    ]:
        if isinstance(item, dict) and "chartsInScope" in item:
            item["chartsInScope"] = _ids(item["chartsInScope"], id_map)


def remap_chart_ids(metadata: dict[str, Any], id_map: dict[int, int]) -> None:
    """Every chart id in a dashboard's metadata, mapped through ``id_map``."""
    remap_charts_in_scope(metadata, id_map)
    scoped = [
        *(metadata.get("native_filter_configuration") or []),
        *(metadata.get("chart_customization_config") or []),
        metadata.get("global_chart_configuration") or {},
    ]
    for item in scoped:
        scope = item.get("scope") if isinstance(item, dict) else None
        if isinstance(scope, dict) and "excluded" in scope:
            scope["excluded"] = _ids(scope["excluded"], id_map)
    if isinstance(metadata.get("chart_configuration"), dict):
        remapped = {}
        for key, value in metadata["chart_configuration"].items():
            new = _ids([key], id_map)
            if new and isinstance(value, dict):
                value["id"] = new[0]
                scope = (value.get("crossFilters") or {}).get("scope")
                if isinstance(scope, dict) and "excluded" in scope:
                    scope["excluded"] = _ids(scope["excluded"], id_map)
                remapped[str(new[0])] = value
        metadata["chart_configuration"] = remapped
    if "timed_refresh_immune_slices" in metadata:
        metadata["timed_refresh_immune_slices"] = _ids(metadata["timed_refresh_immune_slices"], id_map)
    for key in ("expanded_slices", "filter_scopes"):
        if isinstance(metadata.get(key), dict):
            metadata[key] = _keyed(metadata[key], id_map)
    for columns in (metadata.get("filter_scopes") or {}).values():
        for attributes in (columns or {}).values():
            attributes["immune"] = _ids(attributes.get("immune"), id_map)
    if isinstance(metadata.get("default_filters"), str):
        try:
            filters = json.loads(metadata["default_filters"])
        except json.JSONDecodeError:
            return
        metadata["default_filters"] = json.dumps(_keyed(filters, id_map), sort_keys=True)


def _keyed(mapping: dict[str, Any], id_map: dict[int, int]) -> dict[str, Any]:
    """A mapping keyed by chart id (as text), its keys mapped through ``id_map``."""
    return {str(new[0]): value for key, value in mapping.items() if (new := _ids([key], id_map))}
