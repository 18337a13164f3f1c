"""``mlops promote`` and ``mlops rollback``: which version to pin, and whether the target tier accepts it.

Promotion pins in the target stack file the version the source environment serves; it is written only
after the registry rules (``policies/rules/registry.py``) pass for the target tier, judged by the real
offline audit of the rewritten file against a snapshot of the registry. Rollback pins the newest
version older than the one served.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlops_platform.stacks.registry_spec import RegistrySource
from mlops_platform.stacks.schema import EnvironmentSpec, ModelEndpoint
from mlops_platform.tools.registry.client import RegistryError
from mlops_platform.tools.registry.lookup import SNAPSHOT_ENV, Lookup, SnapshotLookup, lookup_for
from mlops_platform.tools.registry.resolve import Resolution, resolve_ref, snapshot

TOKEN_ENV, PASSWORD_ENV = "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD"
"""Where the CLI reads registry credentials (MLflow's own variables); the program reads Pulumi secrets."""


class PromotionError(Exception):
    """Promotion or rollback cannot proceed; ``str()`` is one line saying why."""


def cli_lookup(source: RegistrySource, snapshot_file: Path | None) -> Lookup:
    """The snapshot file when given, else the live registry with credentials from the environment."""
    if snapshot_file is not None:
        return SnapshotLookup(snapshot_file)

    def secret(key: str) -> str | None:
        return os.environ.get(TOKEN_ENV if key == source.token_secret else PASSWORD_ENV)

    saved = os.environ.pop(SNAPSHOT_ENV, None)  # the CLI asks the registry itself, not a stale snapshot
    try:
        return lookup_for(source, secret)
    finally:
        if saved is not None:
            os.environ[SNAPSHOT_ENV] = saved


def endpoint(spec: EnvironmentSpec, model: str) -> ModelEndpoint:
    for candidate in spec.serving.models:
        if candidate.name == model:
            return candidate
    names = ", ".join(m.name for m in spec.serving.models) or "none"
    raise PromotionError(f"environment {spec.environment.name}: no model {model!r} (models: {names})")


def served(spec: EnvironmentSpec, model: str, lookup: Lookup | None) -> Resolution:
    """The version ``spec`` serves on ``model``'s stable track, resolved in ``lookup``.

    Raises:
        PromotionError: the model is not registry-backed, or its version cannot be resolved.
    """
    ref = endpoint(spec, model).model
    env = spec.environment.name
    if ref.name is None:
        raise PromotionError(
            f"environment {env}: model {model!r} is served from an ad-hoc URI, not the registry"
        )
    if lookup is None:
        if ref.version is None:
            raise PromotionError(
                f"environment {env} names no registry_source: cannot tell which version alias "
                f"{ref.alias!r} of {ref.name!r} points to"
            )
        return Resolution(model=ref.name, ref=f"version:{ref.version}", where="spec", record=None)
    resolution = resolve_ref(lookup, ref.name, alias=ref.alias, version=ref.version)
    if resolution.error is not None:
        raise PromotionError(f"environment {env}: {resolution.error}")
    return resolution


def served_version(resolution: Resolution) -> int:
    if resolution.version is not None:
        return resolution.version
    return int(resolution.ref.removeprefix("version:"))


def previous_version(lookup: Lookup, model: str, current: int) -> int:
    """The newest registered version of ``model`` older than ``current``.

    Raises:
        PromotionError: there is none, or the registry cannot list the versions.
    """
    try:
        older = [r.version for r in lookup.all_versions(model) if r.version < current]
    except RegistryError as exc:
        raise PromotionError(str(exc)) from None
    if not older:
        raise PromotionError(
            f'model "{model}" has no registered version older than {current} to roll back to'
        )
    return max(older)


@dataclass(frozen=True)
class GateResult:
    """The target tier's verdict on a rewritten stack file: blocking registry findings, if any."""

    blocking: list[tuple[str, str, str]]
    """(policy, resource URN, message) of every mandatory registry-rule violation on the model."""


@contextmanager
def _snapshot_env(path: Path) -> Iterator[None]:
    saved = os.environ.get(SNAPSHOT_ENV)
    os.environ[SNAPSHOT_ENV] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(SNAPSHOT_ENV, None)
        else:
            os.environ[SNAPSHOT_ENV] = saved


def registry_gate(env_name: str, text: str, spec: EnvironmentSpec, model: str, lookup: Lookup) -> GateResult:
    """Audit ``text`` (a rewritten stack file of ``env_name``) offline and keep the registry rules' verdict.

    The registry is frozen into a snapshot first, so the audit judges exactly what ``lookup`` answers.
    """
    from mlops_platform.policies.catalogue import RULES
    from mlops_platform.policies.rules import registry as rules
    from mlops_platform.tools.engine.audit import audit_environment

    names = {r.name for r in RULES if r.check.__module__ == rules.__name__}
    try:
        document = snapshot(spec, lookup)
    except RegistryError as exc:
        raise PromotionError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="mlops-promote-") as tmp:
        stack_file = Path(tmp) / f"Pulumi.{env_name}.yaml"
        stack_file.write_text(text, encoding="utf-8")
        snapshot_file = Path(tmp) / "registry-snapshot.json"
        snapshot_file.write_text(json.dumps(document), encoding="utf-8")
        with _snapshot_env(snapshot_file):
            result = audit_environment(stack_file)
    # The model's workloads are the children of its ModelEndpoint component, ``serving-<model>``.
    endpoint_suffix = f"$mlops:serving:ModelEndpoint::serving-{model}"
    parents = {r.urn: r.parent or "" for r in result.resources}
    blocking = [
        (f.policy, f.urn, f.message)
        for f in result.findings
        if f.policy in names and f.blocking and parents.get(f.urn, "").endswith(endpoint_suffix)
    ]
    return GateResult(blocking=blocking)
