"""An environment's admission policies: rendered from the catalogue, written for GitOps, installed by ``up``.

:func:`environment_admission` loads the environment once (its spec: name, tier, target, namespace), its
merged policy config and its waivers, resolves each waiver to the Kubernetes objects the environment's
program declares under the resources it selects (the program runs under mocks, as ``mlops preview``
runs it, only when a waiver applies), and renders the ``ValidatingAdmissionPolicy`` and
``ValidatingAdmissionPolicyBinding`` objects (:func:`mlops_platform.policies.admission.render`).
:func:`to_yaml` is the file ``mlops admission render`` writes; :func:`install` server-side applies the
objects and removes the ones of the same environment no longer rendered (``mlops up --admission``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlops_platform.policies.admission import (
    API_VERSION,
    ENVIRONMENT_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    Rendered,
    Target,
    WaivedObjects,
    render,
)

if TYPE_CHECKING:
    from mlops_platform.tools.findings import CapturedResource, Waiver
    from mlops_platform.tools.project import Project

FIELD_MANAGER = "mlops-platform"


class AdmissionError(ValueError):
    """The environment cannot have admission policies (not Kubernetes, bad policy config)."""


@dataclass(frozen=True, slots=True)
class EnvironmentAdmission:
    """What was rendered for one environment, and from what."""

    target: Target
    rendered: Rendered
    waivers: tuple[WaivedObjects, ...]
    unresolved: tuple[str, ...]
    """Waivers of this environment that cover no Kubernetes object (``file:line``), so nothing in the
    cluster: a waiver of a Docker resource, or of a rule CEL does not express."""


def waived_objects(
    waivers: Iterable[Waiver], resources: Sequence[CapturedResource], rules: Iterable[str]
) -> tuple[list[WaivedObjects], list[str]]:
    """Each waiver as the Kubernetes objects it covers: ``(covered, waivers covering none)``.

    A waiver selects resources by URN or name glob (``waivers.selector_matches``); in the cluster it
    covers their objects, by API group, kind and ``metadata.name``.
    """
    from mlops_platform.tools.cluster_prereqs import kind_of
    from mlops_platform.tools.waivers import selector_matches

    wanted = set(rules)
    covered: list[WaivedObjects] = []
    empty: list[str] = []
    for waiver in waivers:
        by_kind: dict[tuple[str, str], list[str]] = {}
        for resource in resources:
            kind = kind_of(resource.type)
            name = (resource.inputs.get("metadata") or {}).get("name")
            if (
                kind is None
                or not isinstance(name, str)
                or not selector_matches(waiver.selector, resource.urn)
            ):
                continue
            names = by_kind.setdefault((kind.group, kind.kind), [])
            if name not in names:
                names.append(name)
        if waiver.policy not in wanted or not by_kind:
            empty.append(waiver.source)
            continue
        covered += [
            WaivedObjects(
                waiver.policy,
                group,
                kind,
                tuple(sorted(names)),
                date.fromisoformat(waiver.expires),
                waiver.source,
            )
            for (group, kind), names in sorted(by_kind.items())
        ]
    return covered, empty


def environment_admission(
    env_file: Path, project: Project, waivers_file: Path | None
) -> EnvironmentAdmission:
    """Render ``env_file``'s admission objects.

    Args:
        env_file: the environment's stack file (it must declare a spec: the namespace comes from it).
        project: the project: its name, policy config and program.
        waivers_file: the waivers (None or absent: none).

    Raises:
        AdmissionError: the environment does not target Kubernetes, or its policy config is bad.
        SpecError, WaiverError: a bad spec or waivers file (located, exit 2 at the CLI).
    """
    from mlops_platform.policies.catalogue import RULES
    from mlops_platform.policies.declaration import Cel
    from mlops_platform.policies.rules._cel import SHARED
    from mlops_platform.stacks.loader import load_environment
    from mlops_platform.tools.policy_config import PolicyConfigFileError, load_policy_config
    from mlops_platform.tools.waivers import applies_to, load_waivers

    spec = load_environment(env_file, project=project.name)
    env = spec.environment
    if env.target != "kubernetes":
        raise AdmissionError(
            f"{env.name}: the environment targets {env.target}; admission policies are for Kubernetes"
        )
    target = Target(environment=env.name, namespace=env.namespace, tier=str(env.tier))
    try:
        config = load_policy_config(project.policy_config_dir, target.tier, env.name).document
    except PolicyConfigFileError as exc:
        raise AdmissionError(str(exc)) from None
    cel_rules = {r.name for r in RULES if isinstance(r.admission, Cel) and not r.non_waivable}
    mine = [
        w
        for w in (load_waivers(waivers_file) if waivers_file is not None and waivers_file.exists() else [])
        if applies_to(w, env.name)
    ]
    covered: list[WaivedObjects] = []
    unresolved: list[str] = [w.source for w in mine if w.policy not in cel_rules]
    mine = [w for w in mine if w.policy in cel_rules]
    if mine:  # which objects each waiver covers: what the program declares under its resources
        from mlops_platform.tools.engine.audit import capture_environment

        resources = capture_environment(env_file, project=project).resources
        covered, empty = waived_objects(mine, resources, cel_rules)
        unresolved += empty
    rendered = render(RULES, target, config, covered, SHARED)
    return EnvironmentAdmission(target, rendered, tuple(covered), tuple(unresolved))


def to_yaml(objects: Sequence[dict[str, Any]]) -> str:
    """The objects as one multi-document YAML file, policies before bindings (``kubectl apply -f``)."""
    header = (
        "# Generated by `mlops admission render` from the rule declarations (policies/rules/*.py), the\n"
        "# environment's policy config and its waivers; regenerate it rather than editing it.\n"
    )
    ordered = [o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
    ordered += [o for o in objects if o["kind"] != "ValidatingAdmissionPolicy"]
    return header + yaml.safe_dump_all(ordered, sort_keys=False, width=120, allow_unicode=True)


def install(api: Any, admission: EnvironmentAdmission) -> tuple[list[str], list[str]]:
    """Server-side apply the environment's objects; delete its objects no longer rendered.

    Returns ``(applied, deleted)`` object names. Policies go first (a binding to a missing policy
    matches nothing), and are deleted last.
    """
    from kubernetes.dynamic import DynamicClient

    client = DynamicClient(api)
    policies = client.resources.get(api_version=API_VERSION, kind="ValidatingAdmissionPolicy")
    bindings = client.resources.get(api_version=API_VERSION, kind="ValidatingAdmissionPolicyBinding")
    rendered = admission.rendered
    applied = []
    for resource, objects in ((policies, rendered.policies), (bindings, rendered.bindings)):
        for body in objects:
            resource.server_side_apply(body=body, field_manager=FIELD_MANAGER, force_conflicts=True)
            applied.append(body["metadata"]["name"])
    deleted = _delete_labelled(
        ((bindings, rendered.bindings), (policies, rendered.policies)), admission.target.environment
    )
    return applied, [name for _, name in deleted]


def _delete_labelled(
    resources: Sequence[tuple[Any, Sequence[dict[str, Any]]]], environment: str
) -> list[tuple[str, str]]:
    """Delete, in ``resources`` order, each kind's objects labelled as ours for ``environment`` except
    those it keeps; the ``(kind, name)`` pairs deleted (one already gone is not counted)."""
    from kubernetes.dynamic.exceptions import NotFoundError

    selector = f"{MANAGED_BY_LABEL}={MANAGED_BY},{ENVIRONMENT_LABEL}={environment}"
    deleted = []
    for resource, kept in resources:
        keep = {o["metadata"]["name"] for o in kept}
        for item in resource.get(label_selector=selector).items:
            name = item.metadata.name
            if name in keep:
                continue
            try:
                resource.delete(name=name)
            except NotFoundError:
                continue
            deleted.append((resource.kind, name))
    return deleted


def uninstall(api: Any, environment: str) -> list[str]:
    """Delete the environment's admission objects (``mlops destroy``); those deleted, as ``kind/name``.

    Bindings first (a policy without its binding judges nothing), then policies; only the objects
    labelled as this tool's for ``environment``. A cluster without the admission API has none.
    """
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    client = DynamicClient(api)
    try:
        policies = client.resources.get(api_version=API_VERSION, kind="ValidatingAdmissionPolicy")
        bindings = client.resources.get(api_version=API_VERSION, kind="ValidatingAdmissionPolicyBinding")
    except ResourceNotFoundError:
        return []
    return [
        f"{kind}/{name}" for kind, name in _delete_labelled(((bindings, ()), (policies, ())), environment)
    ]
