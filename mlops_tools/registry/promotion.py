"""``mlops promote`` and ``mlops rollback``: which version to pin, and whether the target tier accepts it.

Promotion pins in the target stack file the version the source environment serves; it is written only
after the registry rules (``policies/rules/registry.py``) pass for the target tier, judged by the real
offline audit of the rewritten file against a snapshot of the registry. Rollback pins the newest
version older than the one served.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_platform.stacks.registry_spec import RegistrySource
from mlops_platform.stacks.schema import EnvironmentSpec, ModelEndpoint
from mlops_platform.tools.registry.client import ErrorKind, RegistryError
from mlops_platform.tools.registry.lookup import SNAPSHOT_ENV, Lookup, SnapshotLookup, lookup_for
from mlops_platform.tools.registry.resolve import Resolution, resolve_ref, snapshot

if TYPE_CHECKING:
    from mlops_platform.tools.project import Project

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

    return lookup_for(source, secret)  # the live registry: a snapshot is only ever the one named here


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


def canary_conflict(spec: EnvironmentSpec, model: str, version: int, lookup: Lookup | None) -> None:
    """Refuse to pin the stable track of ``model`` to the version its canary serves.

    The spec check compares what is written (``version: 4`` with a canary ``version: 4``); a canary by
    alias is compared here, resolved: the serving component refuses two tracks of one version.

    Raises:
        PromotionError: the canary serves ``version``.
    """
    canary = endpoint(spec, model).canary
    name = endpoint(spec, model).model.name
    if canary is None or name is None:
        return
    serves = canary.version
    if canary.alias is not None and lookup is not None:
        resolution = resolve_ref(lookup, name, alias=canary.alias)
        serves = resolution.version
    if serves == version:
        how = f"alias {canary.alias!r}" if canary.alias is not None else "its version"
        raise PromotionError(
            f"environment {spec.environment.name}: the canary of {model!r} serves version {version} ({how}): "
            "the stable track cannot serve the same version; end the canary (remove canary:) or move it first"
        )


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
    """Run the program (in this process, as the offline audit does) with ``path`` as its snapshot input."""
    saved = os.environ.get(SNAPSHOT_ENV)
    os.environ[SNAPSHOT_ENV] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(SNAPSHOT_ENV, None)
        else:
            os.environ[SNAPSHOT_ENV] = saved


def same_artifact(
    resolution: Resolution,
    source_lookup: Lookup | None,
    target: EnvironmentSpec,
    model: str,
    version: int,
    target_lookup: Lookup,
) -> None:
    """Refuse to pin ``version`` in ``target`` when its registry holds another artifact under that number.

    Version numbers are per registry and per registered model: "version 2" in another tracking server,
    or of another registered name, is another run's model unless its run and source say otherwise.

    Raises:
        PromotionError: the target's version ``version`` has another run id or artifact source.
    """
    theirs = resolution.record
    name = endpoint(target, model).model.name
    if theirs is None or source_lookup is None or name is None:
        return  # the source names a bare version: there is no artifact to compare
    if source_lookup.where == target_lookup.where and resolution.model == name:
        return
    try:
        ours = target_lookup.by_version(name, version)
    except RegistryError as exc:
        if exc.kind is ErrorKind.NOT_FOUND:
            return  # the target tier's registry rules judge a version its registry lacks
        raise PromotionError(str(exc)) from None
    differs = [
        f"{what} {a!r} there, {b!r} in {source_lookup.where}"
        for what, a, b in (("run", ours.run_id, theirs.run_id), ("source", ours.source, theirs.source))
        if a and b and a != b
    ]
    if differs:
        raise PromotionError(
            f'version {version} of "{name}" in {target_lookup.where} is another artifact than version '
            f'{version} of "{resolution.model}" ({"; ".join(differs)}): register that model in the '
            "target's registry and pin the version it gets there"
        )


def registry_gate(
    stack_file: Path,
    spec: EnvironmentSpec,
    model: str,
    lookup: Lookup,
    scratch: Path,
    *,
    project: Project | None = None,
) -> GateResult:
    """Audit ``stack_file`` (a rewritten stack file) offline and keep the registry rules' verdict.

    The registry is frozen into a snapshot in ``scratch`` first, so the audit judges exactly what
    ``lookup`` answers.
    """
    from mlops_platform.policies.catalogue import RULES
    from mlops_platform.policies.rules import registry as rules
    from mlops_platform.tools.engine.audit import audit_environment

    names = {r.name for r in RULES if r.check.__module__ == rules.__name__}
    try:
        document = snapshot(spec, lookup)
    except RegistryError as exc:
        raise PromotionError(str(exc)) from None
    snapshot_file = scratch / "registry-snapshot.json"
    snapshot_file.write_text(json.dumps(document), encoding="utf-8")
    with _snapshot_env(snapshot_file):
        result = audit_environment(stack_file, project=project)
    # The model's workloads are the children of its ModelEndpoint component, ``serving-<model>``.
    endpoint_suffix = f"$mlops:serving:ModelEndpoint::serving-{model}"
    parents = {r.urn: r.parent or "" for r in result.resources}
    blocking = [
        (f.policy, f.urn, f.message)
        for f in result.findings
        if f.policy in names and f.blocking and parents.get(f.urn, "").endswith(endpoint_suffix)
    ]
    return GateResult(blocking=blocking)
