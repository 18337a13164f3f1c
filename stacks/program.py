"""The Pulumi program of the platform: one function, run by ``__main__.py`` and by inline programs.

``pulumi up`` in the project runs ``__main__.py``, which calls :func:`platform_program`; the
Automation API's inline programs (``mlops audit --engine pulumi``, ``mlops up``) pass the same
function to the engine, and the offline audit runs ``__main__.py`` under mocks. One program, three
ways to run it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pulumi

from mlops_platform.stacks.composition import Resolutions, build_layer, build_platform, exports
from mlops_platform.stacks.layers import (
    LAYER_KEY,
    LAYER_STACKS_KEY,
    Layer,
    layer_stack_name,
    parse_layer,
    parse_layer_stacks,
)
from mlops_platform.stacks.loader import SpecError, spec_from_pulumi_config
from mlops_platform.stacks.schema import EnvironmentSpec


def stack_config_values() -> tuple[dict[str, str], set[str]]:
    """Every config value this program received (``namespace:key`` -> string), and the secret keys.

    What ``pulumi.Config`` reads from: the engine's config (``PULUMI_CONFIG`` under the CLI's
    language host, the Automation API's run request for inline programs, the mocks' settings).
    """
    from pulumi.runtime import config as runtime_config

    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return values, {key for key in values if runtime_config.is_config_secret(key)}


def platform_program(project_dir: Path | None = None) -> None:
    """Load and validate this stack's spec from Pulumi config, build the four layers, export endpoints.

    A layer stack (config ``layer``, see ``mlops_platform.stacks.layers``) builds its layer alone over
    its upstream layer's exports, read through a ``StackReference``, and exports what downstream reads.

    Args:
        project_dir: the project's directory (``Path(__file__).parent`` in its ``__main__.py``), whose
            stack files locate spec errors; default: the project of the working directory, where the
            engine runs a program.

    Raises:
        pulumi.RunError: the stack configuration is not a valid spec (every problem, located).
    """
    values, secret_keys = stack_config_values()
    try:
        spec = spec_from_pulumi_config(
            values,
            secret_keys,
            pulumi.get_stack(),
            stacks_dir=_stacks_dir(project_dir),
            project=pulumi.get_project(),
        )
    except SpecError as exc:
        raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None

    config = pulumi.Config()
    try:
        layer = parse_layer(config.get(LAYER_KEY))
        layer_stacks = parse_layer_stacks(config.get_object(LAYER_STACKS_KEY))
    except ValueError as exc:
        raise pulumi.RunError(f"stack {pulumi.get_stack()!r}: {config.name}:{exc}") from None

    if spec.environment.target == "kubernetes" and not spec.environment.await_readiness:
        pulumi.runtime.register_stack_transformation(skip_readiness_awaits)
    if layer is None:  # the whole environment in this one stack
        outputs = exports(build_platform(spec, resolutions=registry_resolutions(spec)))
    else:

        def upstream(of: Layer) -> pulumi.StackReference:
            name = layer_stack_name(spec.environment.name, of, layer_stacks)
            return pulumi.StackReference(f"{of.value}-layer", stack_name=name)

        # The serving layer alone pins models to the registry's answers: only its stack asks the registry.
        answered = registry_resolutions(spec) if layer is Layer.SERVING else None
        outputs = build_layer(spec, layer, upstream, resolutions=answered)
    for key, value in outputs.items():
        pulumi.export(key, value)


def _config_secret_text(key: str) -> str | None:
    """A secret config value as plain text, for the registry client's credentials during the program.

    ``Config.get`` returns a secret's plaintext (pulumi's Python SDK does not warn: pulumi/pulumi#7127);
    it is used only for the request header, never exported or written into any resource.
    """
    return pulumi.Config().get(key)


def registry_resolutions(
    spec: EnvironmentSpec, secret_text: Callable[[str], str | None] = _config_secret_text
) -> Resolutions:
    """Endpoint -> track -> what ``environment.registry_source`` answered (empty when none is named).

    From the registry snapshot ``$MLOPS_REGISTRY_SNAPSHOT`` names when set (``mlops audit
    --registry-snapshot`` sets it for the program it runs), else from the live registry.

    The program asks the registry, before the composition: the composition takes the answers as an
    input. Each unresolved track is logged as a warning (one line: where and why); the registry rules
    fail it.
    """
    from mlops_platform.tools.registry.lookup import SNAPSHOT_ENV
    from mlops_platform.tools.registry.resolve import resolve_environment

    snapshot = os.environ.get(SNAPSHOT_ENV)  # the program's input, as any run of it may be given
    resolutions = resolve_environment(spec, secret_text, Path(snapshot) if snapshot else None)
    for endpoint, tracks in resolutions.items():
        for track, resolution in tracks.items():
            if resolution.error is not None:
                pulumi.log.warn(f"serving.models[{endpoint}] {track}: {resolution.error}")
    return resolutions


def _stacks_dir(project_dir: Path | None) -> Path | None:
    """The stack config directory of the program's project; None when there is no readable project."""
    from mlops_platform.tools.project import Project, ProjectError

    try:
        return (Project.find() if project_dir is None else Project.load(project_dir)).stack_config_dir
    except ProjectError:  # errors are then reported without a line: still every one of them
        return None


SKIP_AWAIT = "pulumi.com/skipAwait"  # the kubernetes provider's annotation: create, don't wait for ready


def skip_readiness_awaits(
    args: pulumi.ResourceTransformationArgs,
) -> pulumi.ResourceTransformationResult | None:
    """Annotate every Kubernetes object with ``pulumi.com/skipAwait: "true"``.

    For clusters where nothing becomes ready (no nodes, as in the test suite's API server): without it
    the provider waits for each Deployment's replicas up to its 10-minute default, then fails.
    """
    if not args.type_.startswith("kubernetes:") or args.type_.startswith("kubernetes:helm"):
        return None
    props = dict(args.props)
    metadata = props.get("metadata")
    if metadata is None:
        return None
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgs  # only Kubernetes resources get here

    if isinstance(metadata, dict):  # a plain dict or an ObjectMetaArgsDict
        annotations = {**(metadata.get("annotations") or {}), SKIP_AWAIT: "true"}
        props["metadata"] = {**metadata, "annotations": annotations}
    elif isinstance(metadata, ObjectMetaArgs):
        annotations = {**(metadata.annotations or {}), SKIP_AWAIT: "true"}
        metadata.annotations = annotations
    else:  # an Output or awaitable of the metadata: its annotations cannot be set here
        raise TypeError(f"{args.name}: cannot annotate metadata of type {type(metadata).__name__}")
    return pulumi.ResourceTransformationResult(props, args.opts)
