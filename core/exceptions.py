"""Every expected failure of the project, each with the exit code the CLI ends with.

The CLI prints ``str(error)`` and exits with ``error.exit_code``: no traceback for these.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

ENV_PREFIX = "LAKEHOUSE_"


class LakehouseError(Exception):
    """Base of the project's expected failures."""

    exit_code = 1


class ConfigError(LakehouseError):
    """A setting or config file value is invalid."""

    exit_code = 2

    @classmethod
    def from_validation(cls, exc: ValidationError, source: str = "settings") -> ConfigError:
        """Name each invalid field, the variable that sets it and what is allowed."""
        lines = [f"invalid {source}:"]
        for loc, message, value in field_errors(exc):
            hint = f" (set {ENV_PREFIX}{'__'.join(loc).upper()})" if source == "settings" else ""
            lines.append(f"  {'.'.join(loc)}: {message}; got {value!r}{hint}")
        return cls("\n".join(lines))


def field_errors(exc: ValidationError) -> list[tuple[list[str], str, object]]:
    """(field path, message, value shown) per error; a check across fields names its field."""
    found = []
    for error in exc.errors():
        loc, value = [str(part) for part in error["loc"]], error.get("input")
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldValueError):  # a check across fields blames one of them
            loc, value = [*loc, *filter(None, cause.field.split("."))], cause.value
        found.append((loc, str(error["msg"]), value))
    return found


class FieldValueError(ValueError):
    """Raised by a validator of a whole model to blame one field (dotted path below the model;
    "" for the validated field itself), so that :meth:`ConfigError.from_validation` names that
    field and shows ``value`` (e.g. a masked secret) instead of the input."""

    def __init__(self, field: str, message: str, value: object) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class PrerequisiteError(LakehouseError):
    """A tool the platform needs is missing and could not be installed."""

    exit_code = 3


class PortInUseError(LakehouseError):
    """A port a managed service needs is taken by another process."""

    exit_code = 4

    def __init__(self, port: int, setting: str, service: str) -> None:
        super().__init__(
            f"port {port} needed by {service} is already in use by another process; "
            f"free it or move {service} with {setting}=<free port> (environment or .env)"
        )
        self.port = port
        self.setting = setting


class ArtifactError(LakehouseError):
    """A download failed or did not match its pinned checksum."""

    exit_code = 5


class ServiceStartError(LakehouseError):
    """A service did not become healthy; carries its log's path and tail."""

    exit_code = 6

    def __init__(self, service: str, reason: str, log_path: Path | None = None, tail: str = "") -> None:
        message = f"{service} did not become healthy: {reason}"
        if log_path is not None:
            message += f"\n--- last lines of {log_path} ---\n{tail}".rstrip()
        super().__init__(message)
        self.service = service
        self.log_path = log_path


class ServiceUnavailableError(LakehouseError):
    """A service the command needs is not reachable."""

    exit_code = 7


class GateFailedError(LakehouseError):
    """A quality gate rejected a layer: the next layer was not built."""

    exit_code = 8


class TransformError(LakehouseError):
    """dbt failed to build a layer (a model or a dbt test)."""

    exit_code = 9


class PipelineBusyError(LakehouseError):
    """Another pipeline run holds the pipeline lock."""

    exit_code = 10


class StreamJobFailedError(LakehouseError):
    """The streaming job gave up restarting a query that keeps failing."""

    exit_code = 11


class PublicationError(LakehouseError):
    """The published state of the layers cannot be restored (e.g. its snapshot was expired)."""

    exit_code = 12


class ExportError(LakehouseError):
    """A BI export cannot be made: nothing published yet, an unknown table, an output in the way."""

    exit_code = 13


class DashboardsError(LakehouseError):
    """Importing or exporting the dashboards bundle failed (the message names the file)."""

    exit_code = 14


class ForecastError(LakehouseError):
    """A forecast cannot be made from what it was given (an empty or broken series, a bad option)."""

    exit_code = 15


class NoLiveTruthError(LakehouseError):
    """There is nothing to score real-time alerts against: no live producer run recorded its truth."""

    exit_code = 16
