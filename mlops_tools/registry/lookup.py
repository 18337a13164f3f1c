"""Where versions are looked up: the live registry or a snapshot file, behind one small interface."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from mlops_platform.stacks.registry_spec import RegistrySource
from mlops_platform.tools.registry.client import (
    Credentials,
    ErrorKind,
    MlflowRestClient,
    RegistryError,
)
from mlops_platform.tools.registry.records import VersionRecord, record_from_mlflow, version_number

SNAPSHOT_ENV = "MLOPS_REGISTRY_SNAPSHOT"
"""The program's input naming a registry snapshot to resolve from (read once, by the program)."""
"""When set, the program resolves from this snapshot file instead of the live registry."""
SNAPSHOT_FORMAT = "mlops-registry-snapshot/1"
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024  # 64 MiB; 10,000 versions with metrics take about 6 MiB
SecretText = Callable[[str], str | None]
"""Reads a secret config key as plain text (None when unset)."""


class Lookup(Protocol):
    where: str
    """How findings name the registry: its URI, or ``snapshot:<file>``."""

    def by_alias(self, model: str, alias: str) -> VersionRecord: ...
    def by_version(self, model: str, version: int) -> VersionRecord: ...
    def all_versions(self, model: str) -> list[VersionRecord]: ...


class LiveLookup:
    """The tracking server's REST API; each version with its run's latest metrics."""

    def __init__(self, client: MlflowRestClient) -> None:
        self.client = client
        self.where = client.tracking_uri

    def _record(self, version: dict[str, Any]) -> VersionRecord:
        run_id = str(version.get("run_id") or "")
        metrics: dict[str, float] = {}
        if run_id:
            try:
                metrics = self.client.run_metrics(run_id)
            except RegistryError as exc:
                if exc.kind is not ErrorKind.NOT_FOUND:  # a deleted run: the version keeps no metrics
                    raise
        try:
            return record_from_mlflow(version, metrics)
        except ValueError as exc:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE, f"MLflow registry {self.where}: a model version's answer: {exc}"
            ) from None

    def by_alias(self, model: str, alias: str) -> VersionRecord:
        return self._record(self.client.version_by_alias(model, alias))

    def by_version(self, model: str, version: int) -> VersionRecord:
        return self._record(self.client.version(model, version))

    def all_versions(self, model: str) -> list[VersionRecord]:
        """Every version, each with its aliases (``model-versions/search`` answers without them)."""
        versions = self.client.versions(model)
        if not versions:
            return []
        by_version: dict[int, list[str]] = {}
        for alias, version in self.client.aliases(model).items():
            by_version.setdefault(version, []).append(alias)
        return [
            replace(record, aliases=tuple(sorted(by_version.get(record.version, []))))
            for record in (self._record(v) for v in versions)
        ]


class SnapshotLookup:
    """A snapshot file written by ``mlops registry snapshot``: offline, reproducible, CI-reliable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = f"snapshot:{path}"
        self.models = read_snapshot(path)["models"]

    def _model(self, model: str) -> dict[str, Any]:
        if model not in self.models:
            raise RegistryError(ErrorKind.NOT_FOUND, f'{self.where}: model "{model}" is not in the snapshot')
        entry: dict[str, Any] = self.models[model]
        return entry

    def by_alias(self, model: str, alias: str) -> VersionRecord:
        aliases = self._model(model).get("aliases", {})
        if alias not in aliases:
            raise RegistryError(
                ErrorKind.NOT_FOUND, f'{self.where}: alias "{alias}" of model "{model}" does not exist'
            )
        return self.by_version(model, version_number(aliases[alias]))

    def by_version(self, model: str, version: int) -> VersionRecord:
        versions = self._model(model).get("versions", {})
        if str(version) not in versions:
            raise RegistryError(
                ErrorKind.NOT_FOUND, f'{self.where}: version {version} of model "{model}" does not exist'
            )
        return VersionRecord.from_json(versions[str(version)])

    def all_versions(self, model: str) -> list[VersionRecord]:
        versions = self._model(model).get("versions", {})
        records = [VersionRecord.from_json(v) for v in versions.values()]
        return sorted(records, key=lambda r: r.version, reverse=True)


class FailedLookup:
    """Stands in when no lookup can be built (a secret missing): every question answers with why."""

    def __init__(self, where: str, error: RegistryError) -> None:
        self.where = where
        self.error = error

    def by_alias(self, model: str, alias: str) -> VersionRecord:
        raise self.error

    def by_version(self, model: str, version: int) -> VersionRecord:
        raise self.error

    def all_versions(self, model: str) -> list[VersionRecord]:
        raise self.error


def credentials(source: RegistrySource, secret: SecretText) -> Credentials | None:
    """The credentials ``source`` names, read through ``secret``.

    Raises:
        RegistryError: a named secret config key is not set.
    """
    if source.token_secret is None and source.password_secret is None:
        return None
    key = source.token_secret or source.password_secret
    assert key is not None
    value = secret(key)
    if not value:
        raise RegistryError(
            ErrorKind.UNAUTHORIZED,
            f"registry_source names secret config key {key!r}, which is not set "
            f"(pulumi config set --secret {key} <value>)",
        )
    if source.token_secret is not None:
        return Credentials(token=value)
    return Credentials(username=source.username, password=value)


def lookup_for(source: RegistrySource, secret: SecretText, snapshot: Path | None = None) -> Lookup:
    """The ``snapshot`` file when one is given, else the live registry of ``source``.

    A snapshot that cannot be read, or credentials that are not set, become a lookup answering every
    question with that error (each track then unresolved, with the reason).
    """
    if snapshot is not None:
        try:
            return SnapshotLookup(snapshot)
        except RegistryError as exc:
            return FailedLookup(f"snapshot:{snapshot}", exc)
    try:
        creds = credentials(source, secret)
    except RegistryError as exc:
        return FailedLookup(source.tracking_uri, exc)
    return LiveLookup(MlflowRestClient(source.tracking_uri, credentials=creds, timeout_s=source.timeout_s))


# --- snapshot files ------------------------------------------------------------------------------


def read_snapshot(path: Path) -> dict[str, Any]:
    """A snapshot's JSON, its shape checked.

    Raises:
        RegistryError: the file is missing, not JSON or not a snapshot (one line naming the file).
    """
    try:
        with path.open("rb") as handle:  # bounded: /dev/zero or a FIFO must not fill the memory
            raw = handle.read(MAX_SNAPSHOT_BYTES + 1)
    except OSError as exc:
        raise RegistryError(
            ErrorKind.UNREACHABLE, f"snapshot {path}: cannot read it ({exc.strerror or exc})"
        ) from None
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise RegistryError(
            ErrorKind.BAD_RESPONSE,
            f"snapshot {path}: larger than {MAX_SNAPSHOT_BYTES // (1024 * 1024)} MiB (a snapshot's limit)",
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise RegistryError(ErrorKind.BAD_RESPONSE, f"snapshot {path}: not JSON ({str(exc)[:200]})") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != SNAPSHOT_FORMAT
        or not isinstance(data.get("models"), dict)
    ):
        raise RegistryError(
            ErrorKind.BAD_RESPONSE, f"snapshot {path}: not a {SNAPSHOT_FORMAT} file (mlops registry snapshot)"
        )
    for name, entry in data["models"].items():
        where = f'snapshot {path}: model "{str(name)[:80]}"'
        try:
            for key, record in dict(entry.get("versions", {})).items():
                number = VersionRecord.from_json(record).version
                if version_number(key) != number:
                    raise ValueError(f"version {str(key)[:40]!r} holds the record of version {number}")
            for alias, version in dict(entry.get("aliases", {})).items():
                version_number(version)
                del alias
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE, f"{where}: malformed entry ({str(exc)[:200]})"
            ) from None
    return data


def snapshot_document(
    environment: str, where: str, models: dict[str, tuple[dict[str, int], list[VersionRecord]]]
) -> dict[str, Any]:
    """The snapshot JSON: per model, its aliases (name -> version) and every version's record."""
    return {
        "format": SNAPSHOT_FORMAT,
        "environment": environment,
        "tracking_uri": where,
        "taken_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "models": {
            name: {
                "aliases": dict(sorted(aliases.items())),
                "versions": {str(r.version): r.to_json() for r in sorted(records, key=lambda r: r.version)},
            }
            for name, (aliases, records) in sorted(models.items())
        },
    }
