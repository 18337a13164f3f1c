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
from typing import Any

from mlops_platform.tools.engine.config import environment_name, load_stack_config
from mlops_platform.tools.engine_pulumi.audit import plan_packs, run_operation
from mlops_platform.tools.engine_pulumi.events import EngineRecord
from mlops_platform.tools.engine_pulumi.workspace import open_stack
from mlops_platform.tools.project import Project, project_or_cwd

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
    with _open(choice) as handle:
        config_dir = choice.the_project.policy_config_dir
        plan = None
        if verb in {"preview", "up"}:
            plan = plan_packs(handle.name, handle.scratch, config_dir=config_dir)
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


def cluster_client(choice: StackChoice) -> Any:
    """A client for the cluster the stack's kubernetes provider targets (its config, else ``KUBECONFIG``)."""
    import os

    from mlops_platform.tools.cluster_prereqs import api_client

    settings = load_stack_config(choice.env_file, project=choice.the_project.name).namespace("kubernetes")
    kubeconfig = settings.get("kubeconfig") or choice.env.get("KUBECONFIG") or os.environ.get("KUBECONFIG")
    return api_client(kubeconfig, settings.get("context"))


def check_prerequisites(choice: StackChoice, *, install: Sequence[str] = ()) -> list[str]:
    """Before anything changes: install the CRD files named, then check the cluster serves every kind.

    Returns the names of the CRDs installed.

    Raises:
        PrerequisiteError: a kind is missing (nothing was changed), or the cluster cannot be asked.
    """
    from mlops_platform.tools.cluster_prereqs import check_cluster, install_crds, read_crds
    from mlops_platform.tools.engine.audit import capture_environment

    crds = read_crds(install) if install else []
    types = {r.type for r in capture_environment(choice.env_file, project=choice.the_project).resources}
    api = cluster_client(choice)
    installed = install_crds(api, crds) if crds else []
    check_cluster(api, environment_name(choice.env_file), types)
    return installed
