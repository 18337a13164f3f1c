"""Run a stack program in-process under Pulumi's mocks and record what the engine would see.

``CaptureMonitor`` subclasses the SDK's ``MockMonitor`` and records every ``RegisterResourceRequest``.
It also does the part of the engine's job the mock monitor skips: URNs as the engine builds them
(full parent type chain, root stack left out), alias specs resolved to URNs (with the aliases a child
inherits from its parent), default providers, ``additionalSecretOutputs`` applied to outputs (so a
``RandomPassword.result`` is secret for every consumer), and deterministic, obviously fake values for
computed outputs and IDs. Each registration is handed to an optional callback as it happens, so
policy analysis runs while the program is still running, as under ``pulumi preview``.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import re
import runpy
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from pathlib import Path
from typing import Any

from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockCallArgs, MockEngine, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack

from mlops_platform.heap import paused_gc
from mlops_platform.tools.engine.calls import (
    UnanswerableCall,
    guarded_invokes,
    invoke_transform,
    package_of,
    position_of,
    project_root_of,
    source_position,
)
from mlops_platform.tools.engine.config import StackConfig
from mlops_platform.tools.engine.props import (
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN,
    engine_properties,
    plain_to_wire,
    struct_to_plain,
    wrap_secret_field,
)
from mlops_platform.tools.engine.provider_host import PACKAGE as PROVIDER_PACKAGE
from mlops_platform.tools.engine.provider_host import KubernetesProvider, ProviderUnavailable, find_provider
from mlops_platform.tools.findings import CapturedResource, SourcePosition

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"

# Computed outputs that programs commonly consume, per type: given placeholder values so consumers see
# a (marked) value. Every other output that is not an input stays unknown, as during a real preview.
COMPUTED_OUTPUTS: dict[str, tuple[str, ...]] = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "random:index/randomString:RandomString": ("result",),
    "random:index/randomBytes:RandomBytes": ("base64", "hex"),
    "random:index/randomId:RandomId": ("hex", "b64Std", "b64Url", "dec"),
    "random:index/randomUuid:RandomUuid": ("result",),
    "random:index/randomPet:RandomPet": ("id",),
    "docker:index/remoteImage:RemoteImage": ("repoDigest", "imageId"),
    "docker:index/image:Image": ("repoDigest", "imageName"),
}


def placeholder(type_: str, name: str, prop: str) -> str:
    """The value given to a computed output under mocks: deterministic and clearly not real."""
    return f"mock:{type_}:{name}:{prop}"


def mock_id(name: str) -> str:
    """The ID given to a custom resource under mocks."""
    return f"{name}-mock-id"


def make_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """A URN as the engine generates it: the parent's full qualified type, the root stack left out."""
    if parent:
        parent_type = parent.split("::")[2]
        if parent_type != ROOT_STACK_TYPE:
            type_ = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def urn_name(urn: str) -> str:
    return urn.split("::", 3)[3]


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_s(text: str) -> float:
    """A Go duration string (``"5m"``, ``"1h30m"``) in seconds, as the engine parses custom timeouts."""
    if not text:
        return 0.0
    return sum(float(n) * _UNIT_S[u] for n, u in _DURATION.findall(text))


@dataclass(slots=True)
class Registration:
    """One registered resource in wire form: what the analyzers receive, and the source of the capture."""

    seq: int
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider_urn: str
    provider_ref: str
    inputs: struct_pb2.Struct
    outputs: struct_pb2.Struct
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool | None
    ignore_changes: tuple[str, ...]
    aliases: tuple[str, ...]
    custom_timeouts: dict[str, str]
    additional_secret_outputs: tuple[str, ...]
    synthetic: bool = False  # created by the engine (root stack, default providers), not by the program
    source: SourcePosition | None = None  # the program line that created it (the SDK's sourcePosition)
    provider: Registration | None = field(default=None, repr=False)  # its provider's registration
    _engine_inputs: struct_pb2.Struct | None = field(default=None, repr=False)

    @property
    def engine_inputs(self) -> struct_pb2.Struct:
        """Inputs as the engine marshals them for ``Analyze`` (resource references downgraded)."""
        if self._engine_inputs is None:
            self._engine_inputs = engine_properties(self.inputs)
        return self._engine_inputs


ResourceCallback = Callable[[Registration], None]


STACK_REFERENCE = "pulumi:pulumi:StackReference"


class StackReferenceError(LookupError):
    """The program references a stack the offline capture has no outputs of."""


class _PlaceholderMocks(Mocks):
    """Invokes and reads under capture: no provider is reachable, so return nothing real.

    A ``StackReference`` reads the outputs the capture was given for that stack (``StackConfig.
    stack_references``: a split environment's upstream layers, captured before it).
    """

    def __init__(self, stack_config: StackConfig | None = None) -> None:
        self._references = stack_config.stack_references if stack_config is not None else {}

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        return {}, None

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == STACK_REFERENCE:
            stack = str(args.inputs.get("name"))
            if stack not in self._references:
                known = ", ".join(sorted(self._references)) or "none"
                raise StackReferenceError(
                    f"StackReference to stack {stack!r}: no outputs of it (known: {known})"
                )
            outputs = self._references[stack]
            state = {
                "name": stack,
                "outputs": outputs.values,
                "secretOutputNames": sorted(outputs.secret_names),
            }
            return args.resource_id or stack, state
        return args.resource_id or mock_id(args.name), dict(args.inputs)


class CaptureMonitor(MockMonitor):
    """A ``MockMonitor`` that records each registration as the engine would receive it.

    Args:
        stack_config: the stack's runtime config (stack name, project, provider config).
        on_resource: called with each ``Registration`` right after it is recorded, from the SDK's
            worker threads; it must be thread-safe and quick.
    """

    def __init__(
        self,
        stack_config: StackConfig,
        on_resource: ResourceCallback | None = None,
        *,
        root: Path | None = None,
        program_dir: Path | None = None,
    ) -> None:
        super().__init__(_PlaceholderMocks(stack_config))
        self.root = (root or Path.cwd()).resolve()
        self._program_dir = program_dir or self.root
        self._provider: KubernetesProvider | None = None
        self._provider_lock = threading.Lock()
        self._constructed: set[str] = set()  # remote components: the provider registers them again
        self._transforms: dict[str, list[Any]] = {}  # URN -> its own transform callbacks
        self._parents: dict[str, str] = {}
        self._stack_transform_callbacks: list[Any] = []
        self.stack = stack_config.environment
        self.project = stack_config.project
        self._config = stack_config
        self._on_resource = on_resource
        self._lock = threading.Lock()
        self._seq = 0
        self.registrations: dict[str, Registration] = {}
        self._aliases: dict[str, tuple[str, ...]] = {}
        self._default_providers: dict[tuple[str, str, str], Registration] = {}
        self.stack_outputs: struct_pb2.Struct = struct_pb2.Struct()
        self.root_urn = ""

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return make_urn(self.stack, self.project, parent, type_, name)

    # -- registration -------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _record(self, reg: Registration) -> None:
        with self._lock:
            reg.seq = self._next_seq()
            self.registrations[reg.urn] = reg
            self._aliases[reg.urn] = reg.aliases
        if self._on_resource is not None:
            self._on_resource(reg)

    def _resolve_aliases(self, request: Any, urn: str, parent: str) -> tuple[str, ...]:
        type_, name = request.type, request.name
        found: list[str] = [a.urn for a in request.aliasURNs] if hasattr(request, "aliasURNs") else []
        own_specs = []
        for alias in request.aliases:
            if alias.urn:
                found.append(alias.urn)
                continue
            spec = alias.spec
            own_specs.append(spec)
            alias_parent = "" if spec.noParent else (spec.parentUrn or parent)
            found.append(
                make_urn(
                    spec.stack or self.stack,
                    spec.project or self.project,
                    alias_parent,
                    spec.type or type_,
                    spec.name or name,
                )
            )
        # A child is also known under each alias of its parent (the engine's inherited child aliases),
        # with its name's parent prefix renamed when the parent's name changed.
        parent_name = urn_name(parent) if parent else ""
        for parent_alias in self._aliases.get(parent, ()):
            alias_parent_name = urn_name(parent_alias)
            child_name = name
            if parent_name and name.startswith(parent_name) and alias_parent_name != parent_name:
                child_name = alias_parent_name + name[len(parent_name) :]
            found.append(make_urn(self.stack, self.project, parent_alias, type_, child_name))
            for spec in own_specs:
                if not spec.noParent and not spec.parentUrn:
                    found.append(
                        make_urn(
                            self.stack, self.project, parent_alias, spec.type or type_, spec.name or name
                        )
                    )
        unique: dict[str, None] = {}
        for alias_urn in found:
            if alias_urn != urn:
                unique.setdefault(alias_urn, None)
        return tuple(unique)

    def _default_provider(self, type_: str, version: str, download_url: str) -> Registration:
        package = type_.split(":", 1)[0]
        key = (package, version, download_url)
        with self._lock:
            existing = self._default_providers.get(key)
        if existing is not None:
            return existing
        name = "default" + ("_" + re.sub(r"[^0-9A-Za-z]", "_", version) if version else "")
        if download_url:
            name += "_" + re.sub(r"[^0-9A-Za-z]", "_", download_url)
        props: dict[str, Any] = dict(self._config.namespace(package))
        if version:
            props["version"] = version
        inputs = struct_pb2.Struct()
        inputs.update(props)
        provider_type = f"{PROVIDER_PREFIX}{package}"
        reg = Registration(
            seq=0,
            urn=make_urn(self.stack, self.project, "", provider_type, name),
            type=provider_type,
            name=name,
            custom=True,
            parent="",
            provider_urn="",
            provider_ref="",
            inputs=inputs,
            outputs=inputs,
            dependencies=(),
            property_dependencies={},
            protect=False,
            retain_on_delete=False,
            delete_before_replace=None,
            ignore_changes=(),
            aliases=(),
            custom_timeouts={},
            additional_secret_outputs=(),
            synthetic=True,
        )
        with self._lock:
            existing = self._default_providers.get(key)
            if existing is not None:
                return existing
            self._default_providers[key] = reg
        self._record(reg)
        return reg

    # -- the real provider, for what mocks cannot answer --------------------------------------------

    def kubernetes(self) -> KubernetesProvider:
        """The running kubernetes provider, started on first use.

        Raises:
            ProviderUnavailable: it is not built.
        """
        with self._provider_lock:
            if self._provider is None:
                binary = find_provider()
                if binary is None:
                    raise ProviderUnavailable(
                        "the program calls the kubernetes provider (a Helm chart, YAML manifests), which "
                        "the offline engine runs from the toolchain: run `mlops toolchain install`"
                    )
                self._provider = KubernetesProvider(
                    binary,
                    cwd=self._program_dir,
                    config=dict(self._config.namespace(PROVIDER_PACKAGE)),
                    monitor=self,
                )
            return self._provider

    def close(self) -> None:
        """Stop the provider, if one was started."""
        with self._provider_lock:
            if self._provider is not None:
                self._provider.close()
                self._provider = None

    def Invoke(self, request: Any) -> resource_pb2.ResourceInvokeResponse:
        package = package_of(request.tok)
        if package == PROVIDER_PACKAGE:
            answer = self.kubernetes().invoke(request.tok, request.args)
            response = resource_pb2.ResourceInvokeResponse()
            getattr(response, "return").CopyFrom(getattr(answer, "return"))
            for failure in answer.failures:
                response.failures.add(property=failure.property, reason=failure.reason)
            return response
        if package == "pulumi":
            return super().Invoke(request)
        raise UnanswerableCall(request.tok, None)

    def _construct(self, request: Any, urn: str) -> resource_pb2.RegisterResourceResponse:
        """A multi-language component: built by its provider, whose children register here."""
        if package_of(request.type) != PROVIDER_PACKAGE:
            raise UnanswerableCall(request.type, position_of(request, self.root), what="component")
        reg = self._component(urn, request.type, request.name, request.parent, request, synthetic=False)
        reg.source = source_position(request)
        with self._lock:
            self._constructed.add(urn)
        self._record(reg)
        answer = self.kubernetes().construct(
            request, project=self.project, stack=self.stack, config=dict(self._config.values)
        )
        return resource_pb2.RegisterResourceResponse(urn=answer.urn or urn, object=answer.state)

    # -- transforms, as the engine runs them ---------------------------------------------------------

    def RegisterStackTransform(self, request: Any) -> empty_pb2.Empty:
        with self._lock:
            self._stack_transform_callbacks.append(request)
        return super().RegisterStackTransform(request)

    def _transformed(self, request: Any, urn: str) -> Any:
        """``request`` after its transforms, its ancestors' and the stack's, in the engine's order.

        The engine calls each transform through the program's callback server (the SDK's
        ``Callbacks`` service) with the resource's type, name, inputs and options, and registers what
        the last one returns: the children a provider constructs are transformed too. Mocks run none.
        """
        with self._lock:
            self._transforms[urn] = list(request.transforms)
            self._parents[urn] = request.parent
            callbacks = list(request.transforms)
            ancestor = request.parent
            while ancestor:
                callbacks += self._transforms.get(ancestor, [])
                ancestor = self._parents.get(ancestor, "")
            callbacks += self._stack_transform_callbacks
        if not callbacks:
            return request
        transformed = resource_pb2.RegisterResourceRequest()
        transformed.CopyFrom(request)
        for callback in callbacks:
            options = resource_pb2.TransformResourceOptions(
                depends_on=list(transformed.dependencies),
                protect=transformed.protect,
                ignore_changes=list(transformed.ignoreChanges),
                replace_on_changes=list(transformed.replaceOnChanges),
                version=transformed.version,
                provider=transformed.provider,
                retain_on_delete=transformed.retainOnDelete,
                additional_secret_outputs=list(transformed.additionalSecretOutputs),
            )
            if transformed.deleteBeforeReplaceDefined:
                options.delete_before_replace = transformed.deleteBeforeReplace
            answer = invoke_transform(
                callback,
                resource_pb2.TransformRequest(
                    type=transformed.type,
                    name=transformed.name,
                    custom=transformed.custom,
                    parent=transformed.parent,
                    properties=transformed.object,
                    options=options,
                ),
            )
            if answer.HasField("properties"):
                transformed.object.Clear()
                transformed.object.MergeFrom(answer.properties)
            if answer.HasField("options"):
                new = answer.options
                transformed.protect = new.protect
                del transformed.ignoreChanges[:]
                transformed.ignoreChanges.extend(new.ignore_changes)
                del transformed.additionalSecretOutputs[:]
                transformed.additionalSecretOutputs.extend(new.additional_secret_outputs)
                transformed.retainOnDelete = new.retain_on_delete
                if new.provider:
                    transformed.provider = new.provider
        return transformed

    def RegisterResource(self, request: Any) -> resource_pb2.RegisterResourceResponse:
        type_, name, parent, custom = request.type, request.name, request.parent, request.custom
        urn = self.make_urn(parent, type_, name)
        if type_ == ROOT_STACK_TYPE:
            self.root_urn = urn
            self._record(self._component(urn, type_, name, parent, request, synthetic=True))
            return resource_pb2.RegisterResourceResponse(urn=urn)
        if not (not custom and urn in self._constructed):
            request = self._transformed(request, urn)
        if request.remote:
            return self._construct(request, urn)
        if not custom and urn in self._constructed:  # the constructing provider registers it again
            return resource_pb2.RegisterResourceResponse(urn=urn)

        provider_ref = request.provider
        if provider_ref:
            provider_urn = provider_ref.rsplit("::", 1)[0]
        elif custom and not type_.startswith(PROVIDER_PREFIX):
            default = self._default_provider(type_, request.version, request.pluginDownloadURL)
            provider_urn = default.urn
            provider_ref = f"{default.urn}::{mock_id(default.name)}"
        else:
            provider_urn = ""

        outputs = struct_pb2.Struct()
        outputs.CopyFrom(request.object)
        if custom:
            for prop in COMPUTED_OUTPUTS.get(type_, ()):
                if prop not in outputs.fields:
                    outputs[prop] = placeholder(type_, name, prop)
            for prop in request.additionalSecretOutputs:
                if prop in outputs.fields:
                    wrap_secret_field(outputs, prop)

        reg = self._registration(urn, request, provider_urn, provider_ref, outputs)
        reg.provider = self.registrations.get(provider_urn) if provider_urn else None
        reg.source = source_position(request)
        self._record(reg)
        resource_id = mock_id(name) if custom else ""
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, {})
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=outputs)

    def _component(
        self, urn: str, type_: str, name: str, parent: str, request: Any, *, synthetic: bool
    ) -> Registration:
        return Registration(
            seq=0,
            urn=urn,
            type=type_,
            name=name,
            custom=False,
            parent=parent,
            provider_urn="",
            provider_ref="",
            inputs=request.object,
            outputs=struct_pb2.Struct(),
            dependencies=tuple(request.dependencies),
            property_dependencies={},
            protect=bool(request.protect),
            retain_on_delete=False,
            delete_before_replace=None,
            ignore_changes=(),
            aliases=(),
            custom_timeouts={},
            additional_secret_outputs=(),
            synthetic=synthetic,
        )

    def _registration(
        self, urn: str, request: Any, provider_urn: str, provider_ref: str, outputs: struct_pb2.Struct
    ) -> Registration:
        timeouts: dict[str, str] = {}
        if request.HasField("customTimeouts"):
            ct = request.customTimeouts
            timeouts = {
                k: v for k, v in (("create", ct.create), ("update", ct.update), ("delete", ct.delete)) if v
            }
        return Registration(
            seq=0,
            urn=urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            parent=request.parent,
            provider_urn=provider_urn,
            provider_ref=provider_ref,
            inputs=request.object,
            outputs=outputs,
            dependencies=tuple(request.dependencies),
            property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            ignore_changes=tuple(request.ignoreChanges),
            aliases=self._resolve_aliases(request, urn, request.parent),
            custom_timeouts=timeouts,
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
        )

    def RegisterResourceOutputs(self, request: Any) -> empty_pb2.Empty:
        reg = self.registrations.get(request.urn)
        if reg is not None and not reg.custom:
            reg.outputs = request.outputs
        if request.urn == self.root_urn:
            self.stack_outputs = request.outputs
        return empty_pb2.Empty()


@dataclass(slots=True)
class Capture:
    """What one run of the program registered, in a deterministic order (parents first, then by URN)."""

    environment: str
    project: str
    resources: list[CapturedResource]
    outputs: dict[str, Any]
    config: StackConfig
    duration_s: float
    registrations: list[Registration] = field(repr=False, default_factory=list)
    secret_values: frozenset[str] = field(repr=False, default=frozenset())
    secret_outputs: frozenset[str] = frozenset()
    """Names of the stack outputs that are secrets (what a ``StackReference`` marks secret)."""
    exported: dict[str, Any] = field(repr=False, default_factory=dict)
    """The stack outputs as a downstream stack reads them: secrets in plaintext (``secret_outputs``
    names them). Never printed: ``outputs`` is what reports show."""

    def by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}

    def redact(self, text: str) -> str:
        """``text`` with every secret plaintext seen during the capture replaced by ``[secret]``."""
        for value in sorted(self.secret_values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, "[secret]")
        return text


def _unwrapped(value: Any) -> Any:
    """A plain value of the wire format with every secret wrapper removed."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _unwrapped(value.get("value"))
        return {k: _unwrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrapped(v) for v in value]
    return value


def _deterministic_order(regs: dict[str, Registration]) -> list[Registration]:
    """Topological order (parent, provider and dependencies before dependents), ties broken by URN."""
    edges: dict[str, set[str]] = {urn: set() for urn in regs}
    indegree = dict.fromkeys(regs, 0)
    for reg in regs.values():
        before = {reg.parent, reg.provider_urn, *reg.dependencies}
        for dep in before:
            if dep in regs and dep != reg.urn and reg.urn not in edges[dep]:
                edges[dep].add(reg.urn)
                indegree[reg.urn] += 1
    heap = [urn for urn, n in indegree.items() if n == 0]
    heapify(heap)
    ordered: list[Registration] = []
    while heap:
        urn = heappop(heap)
        ordered.append(regs[urn])
        for nxt in edges[urn]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heappush(heap, nxt)
    if len(ordered) != len(regs):  # a cycle cannot come from the SDK; keep everything regardless
        seen = {r.urn for r in ordered}
        ordered.extend(regs[u] for u in sorted(regs) if u not in seen)
    return ordered


def _to_captured(reg: Registration, secrets: set[str], plain: set[str]) -> CapturedResource:
    return CapturedResource(
        urn=reg.urn,
        type=reg.type,
        name=reg.name,
        custom=reg.custom,
        inputs=struct_to_plain(reg.inputs, secrets, plain),
        parent=reg.parent or None,
        provider=reg.provider_urn or None,
        dependencies=reg.dependencies,
        property_dependencies=dict(reg.property_dependencies),
        protect=reg.protect,
        retain_on_delete=reg.retain_on_delete,
        delete_before_replace=reg.delete_before_replace,
        ignore_changes=reg.ignore_changes,
        aliases=reg.aliases,
        custom_timeouts=dict(reg.custom_timeouts),
        additional_secret_outputs=reg.additional_secret_outputs,
        source=reg.source,
    )


def registration_of(resource: CapturedResource, secret_placeholder: str) -> Registration:
    """A ``CapturedResource`` back in wire form, for the one request builder (``engine.analyzer``).

    The inverse of the capture's conversion, for resources built by hand (policy tests) or read back
    from a result: the same plain inputs are the Analyze inputs and the AnalyzeStack properties, and
    secret markers become secrets holding ``secret_placeholder`` (the plaintext is gone).
    """
    props = struct_pb2.Struct()
    props.update(plain_to_wire(resource.inputs, secret_placeholder))
    return Registration(
        seq=0,
        urn=resource.urn,
        type=resource.type,
        name=resource.name,
        custom=resource.custom,
        parent=resource.parent or "",
        provider_urn=resource.provider or "",
        provider_ref="",
        inputs=props,
        outputs=props,
        dependencies=resource.dependencies,
        property_dependencies=dict(resource.property_dependencies),
        protect=resource.protect,
        retain_on_delete=resource.retain_on_delete,
        delete_before_replace=resource.delete_before_replace,
        ignore_changes=resource.ignore_changes,
        aliases=resource.aliases,
        custom_timeouts=dict(resource.custom_timeouts),
        additional_secret_outputs=resource.additional_secret_outputs,
        source=resource.source,
        _engine_inputs=props,  # plain values hold no resource reference to downgrade
    )


@contextmanager
def _program_dir(program: Path) -> Iterator[None]:
    """Run with the program's directory as cwd and first on sys.path, as the language host does."""
    directory = str(program.parent)
    previous_cwd = os.getcwd()
    sys.path.insert(0, directory)
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        with suppress(ValueError):
            sys.path.remove(directory)


async def _settle_outputs() -> None:
    """Wait for every output the program created, each once, before the SDK's own final wait.

    The language host's ``wait_for_rpcs`` then awaits the same outputs, but as it finds them:
    ``asyncio.wait(FIRST_COMPLETED)`` over every pending output, again after each completion wave,
    which re-arms a callback on thousands of futures dozens of times (17% of a 100-model capture).
    Waiting for all of them at once first leaves it nothing pending: the same outputs are awaited
    (each registers one callback more); failures are left in place for the SDK to raise, as it would.
    Previews of dev, prod and a 100-model prod are byte-identical with and without it.
    """
    while True:
        with pulumi_settings.SETTINGS.lock:
            pending = [task for task in pulumi_settings.SETTINGS.outputs if not task.done()]
        if not pending:
            return
        await asyncio.wait(pending)


def _run(program: Path, stack_config: StackConfig, monitor: CaptureMonitor) -> None:
    """Run ``program`` in the current (fresh) context with the SDK wired to ``monitor``."""
    settings = pulumi_settings.Settings(
        project=stack_config.project,
        stack=stack_config.environment,
        monitor=monitor,
        engine=MockEngine(None),
        dry_run=True,
        organization="organization",
        root_directory=str(program.parent),
    )
    pulumi_settings.configure(settings)
    pulumi_config.set_all_config(dict(stack_config.values), sorted(stack_config.secret_keys))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def run_program() -> Awaitable[None]:
        runpy.run_path(str(program), run_name="__main__")
        return _settle_outputs()

    try:
        with _program_dir(program):
            loop.run_until_complete(run_in_stack(run_program))
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)


def _run_on_fresh_stack(run: Callable[..., None], *args: Any) -> None:
    """``run(*args)`` in a new thread, in a new ``contextvars`` context; its exception re-raised here.

    The SDK records a stack trace per resource, walking every frame under the program down to the
    thread's first (``traceback.extract_stack``, a file URI per frame; about 6% of the bare floor's
    time in a py-spy profile). From a thread of its own the program runs on a stack as shallow as the
    language host's, without the CLI's and the engine's frames underneath: the recorded traces are
    the host's, and that walk no longer grows with the CLI's depth (too small to measure end to end).
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            contextvars.Context().run(run, *args)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="pulumi-program", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


_RUN_LOCK = threading.Lock()  # the SDK's settings are process-global: one program at a time


def capture_program(
    program: Path, stack_config: StackConfig, *, on_resource: ResourceCallback | None = None
) -> Capture:
    """Run ``program`` (a Pulumi ``__main__.py``) under mocks as a preview of ``stack_config``'s stack.

    Each run starts from fresh SDK state (a new ``contextvars`` context, settings, config, root stack
    and event loop), so two captures in one process are independent and identical.

    Args:
        program: the program file, run with ``runpy.run_path`` as ``__main__``.
        stack_config: the stack's runtime config.
        on_resource: streamed each registration as it happens (see ``CaptureMonitor``).

    Raises:
        Exception: whatever the program raises (spec validation errors included), unchanged.
    """
    program = program.resolve()
    root = project_root_of(program)
    monitor = CaptureMonitor(stack_config, on_resource, root=root, program_dir=program.parent)
    started = time.perf_counter()
    try:
        with _RUN_LOCK, paused_gc(), guarded_invokes(root):
            _run_on_fresh_stack(_run, program, stack_config, monitor)
    finally:
        monitor.close()
    duration = time.perf_counter() - started
    config_secrets = set(stack_config.secret_values)
    secrets: set[str] = set(config_secrets)
    ordered = _deterministic_order(monitor.registrations)
    plain: set[str] = set()
    resources = [_to_captured(reg, secrets, plain) for reg in ordered]
    outputs = struct_to_plain(monitor.stack_outputs, secrets, plain)
    # Outputs of resources can hold secrets the inputs never had (additionalSecretOutputs placeholders).
    for reg in ordered:
        if reg.additional_secret_outputs:
            struct_to_plain(reg.outputs, secrets)
    return Capture(
        environment=stack_config.environment,
        project=stack_config.project,
        resources=resources,
        outputs=dict(sorted(outputs.items())),
        config=stack_config,
        duration_s=duration,
        registrations=ordered,
        # A string that is also used in the clear (a user name inside a secret map) is not redacted.
        # Encrypted config values always count as secret, even when a program leaks one into the clear.
        secret_values=frozenset({s for s in secrets if s != UNKNOWN and s not in plain} | config_secrets),
        exported={
            key: _unwrapped(value) for key, value in json_format.MessageToDict(monitor.stack_outputs).items()
        },
        secret_outputs=frozenset(
            key
            for key, value in monitor.stack_outputs.fields.items()
            if value.WhichOneof("kind") == "struct_value"
            and value.struct_value.fields.get(SIG_KEY, struct_pb2.Value()).string_value == SECRET_SIG
        ),
    )
