"""A scenario on the web page: a generator config as plain TOML data, edited field by field.

The page keeps the scenario as the dict a TOML file parses to, so that what it saves is exactly
what ``lakehouse generate --config`` reads, and it validates with the generator's own model
(:class:`generator.config.GeneratorConfig`): the page has no rules of its own.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from typing import Any

import tomli_w
from pydantic import ValidationError

from core.exceptions import ConfigError, field_errors
from generator.config import DEFAULT_CONFIG, GeneratorConfig

Scenario = dict[str, Any]


def default_scenario() -> Scenario:
    """The default country file (Algeria) as TOML data."""
    return tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def parse_scenario(text: str, source: str = "uploaded file") -> Scenario:
    """TOML text as a scenario; not TOML is a ConfigError naming the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None


def scenario_toml(scenario: Scenario) -> str:
    """The scenario as TOML that ``lakehouse generate --config`` accepts."""
    header = "# Generator scenario saved by the web page: lakehouse generate --config <this file>\n"
    return header + tomli_w.dumps(scenario)


def get_path(scenario: Scenario, path: str) -> Any:
    """The value at a dotted path (``traffic.rates.prepaid.voice``); None when absent."""
    node: Any = scenario
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def with_value(scenario: Scenario, path: str, value: Any) -> Scenario:
    """A copy of the scenario with ``value`` at the dotted ``path`` (sections made as needed)."""
    result = copy.deepcopy(scenario)
    *parents, leaf = path.split(".")
    node: Any = result
    for part in parents:  # a digit indexes a list (``regions.0.population``)
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return result


@dataclass(frozen=True)
class Validation:
    """The outcome of validating a scenario: the config, or one message per invalid field."""

    config: GeneratorConfig | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.config is not None

    def error_for(self, path: str) -> str | None:
        """The message of a field or of anything below it (``regions`` covers ``regions.0.code``)."""
        for key, message in self.errors.items():
            if key == path or key.startswith(f"{path}."):
                return message
        return None


def validate(scenario: Scenario, time_zone: str) -> Validation:
    """Validate as ``lakehouse generate`` does; errors keyed by dotted field path.

    Each message starts with the field and ends with the value given, as the CLI's do, and
    carries the allowed range when the model states one ("greater than or equal to 10").
    """
    try:
        return Validation(GeneratorConfig.model_validate({**scenario, "time_zone": time_zone}))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for loc, message, value in field_errors(exc):
            path = ".".join(loc) or "scenario"
            shown = value if not isinstance(value, dict | list) else "…"
            errors.setdefault(path, f"{path}: {message}; got {shown!r}")
        return Validation(None, errors)
