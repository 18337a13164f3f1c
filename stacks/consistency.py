"""Contradictions between environments, and within one, that a reviewer would catch.

Each check says whether it is an error (the environment cannot be deployed as written) or a warning
(it can, but probably not as meant), and why. The stack name vs ``environment.name`` check lives in
the loader itself (every reading of a stack file refuses the mismatch); these checks need the other
environments of the same stacks directory, so the CLI runs them beside validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_platform.stacks.loader import (
    PROJECT,
    SpecError,
    SpecLocator,
    environment_files,
    load_environment,
    read_stack_file,
    stack_name_of,
)
from mlops_platform.stacks.schema import EnvironmentSpec
from mlops_platform.stacks.types import Tier
from mlops_platform.stacks.yaml_source import Problem, display_path

CLUSTER_KEYS = ("kubernetes:context", "kubernetes:kubeconfig", "kubernetes:cluster")


@dataclass(frozen=True, slots=True)
class Consistency:
    """What the checks found: errors stop a command (exit 2), warnings are printed."""

    errors: list[Problem]
    warnings: list[Problem]


def _cluster(path: Path) -> tuple[str, ...]:
    """The cluster a stack file names for its kubernetes provider ('' each when it names none)."""
    values = read_stack_file(path).values
    return tuple(str(values.get(key, "")) for key in CLUSTER_KEYS)


def check_environment(
    path: Path, spec: EnvironmentSpec, stacks_dir: Path | None = None, *, project: str = PROJECT
) -> Consistency:
    """Check ``spec`` (read from ``path``) against itself and the other environments beside it.

    Errors:
        * the namespace of another environment with the same target (and, for Kubernetes, the same
          cluster as far as the stack files say): both stacks would manage the same objects, so
          each ``up`` overwrites the other's resources and a ``destroy`` deletes both.

    Warnings:
        * the namespace names another environment (``mlops-staging`` in ``predmaint``): a copied file
          that kept its origin's namespace;
        * an environment named like a tier (``prod``) with another tier: it is audited with that
          other tier's policy config and defaults;
        * a file not named ``Pulumi.<name>.yaml``: no stack can have it as config, and the stack name
          cannot be checked against ``environment.name``.
    """
    locator = SpecLocator(path, project)
    env = spec.environment
    errors: list[Problem] = []
    warnings: list[Problem] = []

    def at(key: str) -> tuple[str, int | None]:
        file, line, _default = locator.locate(("environment", key))
        return file, line

    if stack_name_of(path) is None:
        warnings.append(
            Problem(
                locator.file,
                None,
                "",
                f"not named Pulumi.<stack>.yaml: a stack of project {project} reads "
                f"stacks/Pulumi.{env.name}.yaml, and the stack name cannot be checked against "
                "environment.name",
            )
        )
    tiers = {t.value for t in Tier}
    if env.name in tiers and env.tier.value != env.name:
        warnings.append(
            Problem(
                *at("tier"),
                "environment.tier",
                f"environment {env.name!r} has tier {env.tier.value!r}: it gets {env.tier.value}'s defaults "
                f"and policy config, not {env.name}'s",
            )
        )
    others: dict[Path, EnvironmentSpec] = {}
    for other_file in environment_files(stacks_dir or path.parent):
        if other_file.resolve() == path.resolve():
            continue
        try:
            others[other_file] = load_environment(other_file, project=project)
        except SpecError:
            continue  # reported when that environment itself is validated
    for other_path, other_spec in others.items():
        o = other_spec.environment
        if o.namespace == env.namespace and o.target == env.target and _cluster(other_path) == _cluster(path):
            errors.append(
                Problem(
                    *at("namespace"),
                    "environment.namespace",
                    f"namespace {env.namespace!r} is also environment {o.name!r}'s "
                    f"({display_path(other_path)}), "
                    f"same target and cluster: both stacks would manage the same objects (each up overwrites "
                    f"the other's, a destroy deletes both); give {env.name} a namespace of its own",
                )
            )
        elif o.name != env.name and o.name in env.namespace.split("-") and env.name not in env.namespace:
            warnings.append(
                Problem(
                    *at("namespace"),
                    "environment.namespace",
                    f"namespace {env.namespace!r} names environment {o.name!r}, not {env.name!r}: a copied "
                    "stack file that kept its origin's namespace?",
                )
            )
    return Consistency(errors, warnings)
