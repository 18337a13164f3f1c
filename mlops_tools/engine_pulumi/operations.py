"""``mlops preview --pulumi``, ``mlops up``, ``mlops refresh`` and ``mlops destroy`` on the real engine.

Every ``preview`` and ``up`` carries every policy pack with its environment's config, so a mandatory
violation stops ``up`` before the engine changes anything. Three kinds of stack:

* a stack of the user's own backend (``--stack NAME``, in the project directory);
* a *local-state* stack (``--local-state DIR``): file backend, passphrase and a copy of the stack
  file kept in DIR, so a second ``up`` or a ``destroy`` finds the state of the first;
* an ephemeral stack (previews only): the same, in a temporary directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_platform.tools.atomic_write import write_atomic
from mlops_platform.tools.engine.config import environment_name, load_stack_config
from mlops_platform.tools.engine_pulumi.audit import environment_config, plan_packs, run_operation
from mlops_platform.tools.engine_pulumi.events import EngineRecord
from mlops_platform.tools.engine_pulumi.workspace import open_stack
from mlops_platform.tools.policy_config import describe_sources
from mlops_platform.tools.project import Project, project_or_cwd

if TYPE_CHECKING:
    from mlops_platform.tools.cluster_prereqs import ClusterRef

EXIT_OK, EXIT_VIOLATIONS, EXIT_FAILED = 0, 1, 2

RENDER_KEY = "kubernetes:renderYamlToDirectory"


@dataclass(frozen=True, slots=True)
class StackChoice:
    """Which stack an operation runs on (see the module docstring)."""

    env_file: Path
    stack_name: str | None = None
    local_state: Path | None = None
    config: Mapping[str, str] = field(default_factory=dict)  # plain settings for a local-state stack
    env: Mapping[str, str] = field(default_factory=dict)  # more environment for the engine (KUBECONFIG)
    project: Project | None = None  # None: the working directory's
    policy_environment: str | None = None  # the policy config's environment (None: the stack's name)
    disabled_policies: frozenset[str] = frozenset()  # off in this run (judged over the environment)

    @property
    def the_project(self) -> Project:
        return project_or_cwd(self.project)


def _open(choice: StackChoice):  # type: ignore[no-untyped-def]
    return open_stack(
        choice.env_file,
        project=choice.the_project,
        stack_name=choice.stack_name,
        extra_config=choice.config,
        extra_env=choice.env,
        keep=choice.local_state.resolve() if choice.local_state is not None else None,
    )


def render_config(render_to: Path) -> dict[str, str]:
    """Stack config that makes the kubernetes provider write manifests to ``render_to``, not a cluster."""
    return {RENDER_KEY: str(render_to.resolve())}


def engine_run(
    choice: StackChoice,
    verb: str,
    *,
    echo: Callable[[str], None] | None = None,
    refresh: bool = False,
) -> EngineRecord:
    """Run one operation (``preview``/``up`` with every pack, ``refresh``, ``destroy``) on ``choice``.

    Raises:
        EngineUnavailable: no Pulumi CLI.
        EngineRunError: the engine failed for a reason other than policy violations.
    """
    policy_config = (
        environment_config(
            choice.env_file,
            choice.the_project.policy_config_dir,
            environment=choice.policy_environment,
            project=choice.the_project.name,
        )
        if verb in {"preview", "up"}
        else None
    )
    if policy_config is not None and echo is not None:
        echo(f"policy config: {describe_sources(policy_config)}")
    with _open(choice) as handle:
        plan = (
            plan_packs(policy_config, handle.scratch, disabled=choice.disabled_policies)
            if policy_config is not None
            else None
        )
        if verb == "up":
            # The engine analyzes each resource as it is registered and applies the others meanwhile:
            # seen here, an `up` whose fraud-scorer Deployment broke a mandatory policy had already
            # rendered NetworkPolicies and others. A preview with the packs first stops it before any change.
            gate = run_operation(handle, "preview", plan, echo=echo, refresh=refresh)
            if gate.mandatory():
                return gate
        return run_operation(handle, verb, plan, echo=echo, refresh=refresh)


def exit_code(record: EngineRecord) -> int:
    """0 when the run went through, 1 when mandatory policy violations stopped it."""
    return EXIT_VIOLATIONS if record.mandatory() else EXIT_OK


def stack_cluster(choice: StackChoice) -> ClusterRef:
    """The cluster the stack's kubernetes provider targets: its config, then the engine's environment.

    The config is the stack file's with the run's own settings over it; the environment is this
    process's with ``choice.env`` over it, as the engine gets them (``workspace.open_stack``).
    """
    import os

    from mlops_platform.tools.cluster_prereqs import provider_cluster

    settings = load_stack_config(choice.env_file, project=choice.the_project.name).namespace("kubernetes")
    settings.update(
        {k.removeprefix("kubernetes:"): v for k, v in choice.config.items() if k.startswith("kubernetes:")}
    )
    return provider_cluster(settings, {**os.environ, **choice.env})


def check_prerequisites(choice: StackChoice, *, install: Sequence[str] = ()) -> list[str]:
    """Before anything changes: install the CRD files named, then check the cluster serves every kind.

    Returns the names of the CRDs installed.

    Raises:
        PrerequisiteError: a kind is missing (nothing was changed), or the cluster cannot be asked.
    """
    from mlops_platform.tools.cluster_prereqs import api_client, check_cluster, install_crds, read_crds
    from mlops_platform.tools.engine.audit import capture_environment

    crds = read_crds(install) if install else []
    types = {r.type for r in capture_environment(choice.env_file, project=choice.the_project).resources}
    api = api_client(stack_cluster(choice))
    installed = install_crds(api, crds) if crds else []
    check_cluster(api, environment_name(choice.env_file), types)
    return installed


@dataclass(frozen=True, slots=True)
class LayerRun:
    """One layer stack's ``up`` in a split environment."""

    layer: str
    stack: str
    record: EngineRecord


@dataclass(frozen=True, slots=True)
class SplitUp:
    """What ``up_split`` did: the offline gate's blocking stack-rule findings, or each layer's run."""

    gate: list[Any]
    """Mandatory stack-rule findings of the environment (nothing ran when there are any)."""
    runs: list[LayerRun]


def up_split(
    env_file: Path,
    *,
    local_state: Path,
    project: Project | None = None,
    render_to: Path | None = None,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> SplitUp:
    """``up`` of an environment as one stack per layer on one local backend, the layers in order.

    Stack rules judge relations across layers, which no single layer stack sees whole: they are judged
    first over the whole environment (the offline split audit's ``environment_stack_analysis``), and a
    mandatory finding stops everything before any change. Each layer stack then goes up on the real
    engine with every pack, its stack rules off, its resource rules as always (a mandatory violation
    stops that layer and the ones after it). Layer ``L``'s stack is ``<env>-<L>``, its stack file the
    environment's with ``layer: L``, kept under ``local_state``; its StackReference reads the upstream
    stack's outputs from the same backend.

    Args:
        env_file: the environment's stack file.
        local_state: the backend, passphrase and stack files of the four stacks (kept for later runs).
        project: the Pulumi project (default: the working directory's).
        render_to: write each layer's manifests under ``render_to/<layer>`` instead of a cluster.
        env: more environment for the engine (``KUBECONFIG``).
        echo: receives the engine's progress lines.
    """
    import yaml

    from mlops_platform.stacks.layers import LAYER_KEY, Layer, layer_stack_name
    from mlops_platform.tools.engine.audit import audit_split_environment
    from mlops_platform.tools.findings import Enforcement

    project = project_or_cwd(project)
    audited = audit_split_environment(env_file, project=project)
    stack_rules = frozenset(m.name for _, r in audited for m in r.policies if m.stack_level)
    gate = [
        f
        for _, r in audited
        for f in r.findings
        if f.policy in stack_rules and f.enforcement is Enforcement.MANDATORY
    ]
    if gate:
        return SplitUp(gate, [])
    environment = environment_name(env_file)
    doc = yaml.safe_load(env_file.read_text(encoding="utf-8")) or {}
    spec_env = (doc.get("config") or {}).get(f"{project.name}:environment") or {}
    files = local_state / "layer-stacks"
    files.mkdir(parents=True, exist_ok=True)
    runs: list[LayerRun] = []
    for layer in Layer:
        stack = layer_stack_name(str(spec_env.get("name", environment)), layer)
        layer_doc = {
            **doc,
            "config": {**(doc.get("config") or {}), f"{project.name}:{LAYER_KEY}": layer.value},
        }
        layer_file = files / f"Pulumi.{stack}.yaml"
        write_atomic(layer_file, yaml.safe_dump(layer_doc, sort_keys=False))
        choice = StackChoice(
            layer_file,
            local_state=local_state,
            config=render_config(render_to / layer.value) if render_to is not None else {},
            env=env or {},
            project=project,
            policy_environment=environment,
            disabled_policies=stack_rules,
        )
        record = engine_run(choice, "up", echo=echo)
        runs.append(LayerRun(layer.value, stack, record))
        if record.mandatory():
            break
    return SplitUp([], runs)
