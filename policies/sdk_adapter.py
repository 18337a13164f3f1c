"""The one place the packs use pulumi-policy's private API: a faster analyzer servicer.

pulumi-policy 1.21.0's ``Analyze`` converts the request's properties afresh for every policy
(``MessageToDict``, ``deserialize_properties``, ``unknown_checking_proxy``), and its servicer parses
``PULUMI_CONFIG`` (the whole spec) on every call; then each of our validations copies the props again
with ``plain``. The servicer here is the SDK's own loop with one change: policies marked with
:func:`mark_shareable` (which only read their arguments) share one conversion of the request (props,
options, provider) and one ``Res`` per resource; any other policy gets its own fresh conversion, as
before. Policy order, levels, diagnostics, not-applicable reasons and exceptions are the SDK's.

What it saves (``bench/fast_path.py``: every pack's Analyze of every resource and one AnalyzeStack,
in-process, SDK servicer and this one alternating, byte-identical answers; 100-model prod stack,
1,127 resources, on a loaded 2-core machine): 30.8 s against 3.3 s (9.4x) with ``PULUMI_CONFIG`` as
the engine sets it, 25.0 s against 3.2 s (7.8x) without; per pack 7.4-11.8x. Too much to give up.

Private API it relies on, all of pulumi-policy 1.21.0 (``pulumi_policy/policy.py``): the class
``_PolicyAnalyzerServicer`` (subclassed, and rebound so ``PolicyPack`` serves with the subclass), its
name-mangled ``__policies``, ``__policy_pack_name``, ``__policy_pack_version`` and ``__stack_tags``,
its ``_get_enforcement_level``, ``_get_policy_config``, ``_get_resource_options``,
``_get_provider_resource``, ``_create_report_violation``, ``_map_enforcement_level``,
``_configure_runtime_settings``, ``_NotApplicableError``; ``pulumi_policy.deserialize.
_deserialize_property``. So it runs only on the version it was written for (:data:`WRITTEN_FOR`,
pyproject's pin) and refuses any other with :class:`SdkVersionError`, naming both.

Waits for: the SDK converting a request once for all its policies. No pulumi/pulumi-policy issue asks
for it yet (searched); the open performance issue of policy packs is pulumi/pulumi#6500 ("Policy as
Code introduces slowness during pulumi up/preview"). When upstream shares the conversion, delete this
module and the ``install_shared_analysis()`` call in each pack's ``__main__.py``.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any, cast

from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import SPECIAL_SIG_KEY

from mlops_platform.policies.rules._model import _SENTINELS, Res, Unknown, plain, res_of, resource_options

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from pulumi_policy.policy import _PolicyAnalyzerServicer

WRITTEN_FOR = "1.21.0"
"""The pulumi-policy version whose servicer this mirrors (pyproject pins it)."""

_LOG = logging.getLogger(__name__)


class SdkVersionError(RuntimeError):
    """Another pulumi-policy is installed than the one this adapter was written for."""


def check_sdk_version() -> None:
    """Refuse any pulumi-policy but :data:`WRITTEN_FOR`: the private API used here may differ.

    Raises:
        SdkVersionError: naming the installed and the expected version and what to do.
    """
    installed = metadata.version("pulumi_policy")
    if installed != WRITTEN_FOR:
        raise SdkVersionError(
            f"pulumi-policy {installed} is installed; the mlops packs' analyzer "
            f"(mlops_platform.policies.sdk_adapter) subclasses pulumi-policy {WRITTEN_FOR}'s private "
            f"_PolicyAnalyzerServicer and runs on that version only. Install pulumi-policy=={WRITTEN_FOR} "
            "(mlops-platform pins it) in the pack's environment."
        )


class _RequestView:
    """One request's conversions, made on first use and shared by this pack's read-only policies.

    Our policies read a resource only as a ``Res`` (plain values, ``Unknown`` markers), which is built
    straight from the request's properties. The SDK's props proxy (``props()``) and ``PolicyResource``
    list (``stack_resources()``) are handed to them as deferred views, built only if something reads
    them: building the proxy and copying through it cost 5x the direct conversion (measured:
    AnalyzeStack of 3,280 resources, 1.57 s against 0.31 s per pack).
    """

    __slots__ = (
        "_deferred",
        "_deferred_stack",
        "_opts",
        "_props",
        "_provider",
        "_request",
        "_res",
        "_servicer",
        "_stack",
        "_stack_res",
    )

    def __init__(self, servicer: Any, request: Any) -> None:
        self._servicer, self._request = servicer, request
        self._props: Any = _UNSET
        self._opts: Any = _UNSET
        self._provider: Any = _UNSET
        self._res: Res | None = None
        self._stack: list[Any] | None = None
        self._stack_res: list[Res] | None = None
        self._deferred: _Deferred | None = None
        self._deferred_stack: _DeferredList | None = None

    def props(self) -> Any:
        if self._props is _UNSET:
            self._props = _fresh_props(self._request.properties)
        return self._props

    def deferred_props(self) -> Any:
        """The SDK's props proxy, built on first read (our policies read ``res()`` instead)."""
        if self._deferred is None:
            self._deferred = _Deferred(self.props)
        return self._deferred

    def deferred_stack_resources(self) -> Any:
        """The SDK's ``PolicyResource`` list, built on first read (our policies read ``stack_res()``)."""
        if self._deferred_stack is None:
            self._deferred_stack = _DeferredList(self.stack_resources)
        return self._deferred_stack

    def opts(self) -> Any:
        if self._opts is _UNSET:
            self._opts = self._servicer._get_resource_options(self._request)
        return self._opts

    def provider(self) -> Any:
        if self._provider is _UNSET:
            self._provider = self._servicer._get_provider_resource(self._request)
        return self._provider

    def res(self, args: Any) -> Res:
        if self._res is None:
            request = self._request
            self._res = _res_from(args.resource_type, args.name, args.urn, request.properties, args.opts)
        return self._res

    def stack_resources(self) -> list[Any]:
        if self._stack is None:
            self._stack = _stack_resources(self._servicer, self._request)
        return self._stack

    def stack_res(self) -> list[Res]:
        if self._stack_res is None:
            options = self._servicer._get_resource_options
            self._stack_res = [
                _LazyRes(r.type, r.name, r.urn, r.properties, options(r)) for r in self._request.resources
            ]
        return self._stack_res


class _LazyRes(Res):
    """A ``Res`` whose props are converted from the request on first read.

    A stack policy reads the props of a few types only (workloads, selectors, monitors), so most of
    an ``AnalyzeStack``'s resources are never converted (at 300 models the conversion was 90% of a
    pack's ``AnalyzeStack``).
    """

    __slots__ = ("_plain", "_properties")
    _plain: dict[str, Any] | None
    _properties: Any  # the request's protobuf Struct

    def __init__(self, resource_type: str, name: str, urn: str, properties: Any, opts: Any) -> None:
        protect, secret_outputs = resource_options(opts)
        for field_, value in (
            ("type", resource_type),
            ("name", name),
            ("urn", urn),
            ("protect", protect),
            ("secret_outputs", secret_outputs),
            ("_properties", properties),
        ):
            object.__setattr__(self, field_, value)
        object.__setattr__(self, "_plain", None)

    @property  # type: ignore[override]
    def props(self) -> dict[str, Any]:
        converted = self._plain
        if converted is None:
            converted = plain_props(self._properties)
            object.__setattr__(self, "_plain", converted)
        return converted


class _BuiltOnFirstUse:
    """A read-only container built by ``make()`` on first use; ``__getitem__`` and ``__len__`` read it."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Any) -> None:
        self._make, self._value = make, None

    def _get(self) -> Any:
        if self._value is None:
            self._value = self._make()
        return self._value

    def __getitem__(self, key: Any) -> Any:
        return self._get()[key]

    def __len__(self) -> int:
        return len(self._get())


class _Deferred(_BuiltOnFirstUse, Mapping):
    """A mapping built on first use."""

    __slots__ = ()

    def __iter__(self) -> Any:
        return iter(self._get())


class _DeferredList(_BuiltOnFirstUse, Sequence):
    """A sequence built on first use."""

    __slots__ = ()


_UNSET = object()
_CURRENT = threading.local()  # the view of the request this thread is analyzing (packs serve 4 threads)


def shared_res(args: Any) -> Res | None:
    """The request's one ``Res`` when ``args`` is this thread's shared view; None: convert it yourself."""
    view: _RequestView | None = getattr(_CURRENT, "view", None)
    if view is not None and view._deferred is not None and view._deferred is args.props:
        return view.res(args)
    return None


def shared_stack_res(args: Any) -> list[Res] | None:
    """The request's ``Res`` list when ``args`` is this thread's shared view; None: convert it yourself."""
    view: _RequestView | None = getattr(_CURRENT, "view", None)
    if view is not None and view._deferred_stack is not None and view._deferred_stack is args.resources:
        return view.stack_res()
    return None


def _res_from(resource_type: str, name: str, urn: str, properties: Any, opts: Any) -> Res:
    """``to_res`` of the SDK's props for ``properties``, converted without building the SDK's proxy."""
    return res_of(resource_type, name, urn, plain_props(properties), opts)


def plain_props(struct: Any) -> dict[str, Any]:
    """``plain(_fresh_props(struct))`` in one pass over the Struct, without the SDK's proxy.

    The same values as ``plain`` of the proxy (a hypothesis test checks it over unknowns and
    secrets): the proxy raises on each unknown sentinel, which ``plain`` turns into the very
    ``Unknown`` marker made here of the raw sentinel. A map carrying Pulumi's signature key (a
    secret, asset or archive) goes through the SDK's ``deserialize_properties`` and ``plain`` as is.
    """
    return {key: _plain_value(value, f".{key}") for key, value in struct.fields.items()}


def _plain_value(value: Any, path: str) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        unknown = _SENTINELS.get(text)
        return Unknown(path or ".", unknown) if unknown else text
    if kind == "struct_value":
        fields = value.struct_value.fields
        if SPECIAL_SIG_KEY in fields:
            from pulumi_policy.deserialize import _deserialize_property

            return plain(_deserialize_property(_json_value(value)), path)
        return {key: _plain_value(item, f"{path}.{key}") for key, item in fields.items()}
    if kind == "list_value":
        return [_plain_value(item, f"{path}[{i}]") for i, item in enumerate(value.list_value.values)]
    return _json_value(value)  # number (refusing inf and NaN as MessageToDict does), bool, null


def _fresh_props(struct: Any) -> Any:
    """``unknown_checking_proxy(deserialize_properties(MessageToDict(struct)))``, as the SDK builds props."""
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    return unknown_checking_proxy(deserialize_properties(struct_to_dict(struct)))


def struct_to_dict(struct: Any) -> dict[str, Any]:
    """``json_format.MessageToDict`` of a ``google.protobuf.Struct``, without its generic machinery.

    The same values, types and key order (a Struct's values map to JSON: numbers stay floats, null is
    ``None``; infinities and NaN raise ``ValueError`` as there), in ~70% of the time (measured on the
    1,130 resources of a 100-model environment: 70 ms against 100 ms).
    """
    return {key: _json_value(value) for key, value in struct.fields.items()}


def _json_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return {key: _json_value(v) for key, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_json_value(v) for v in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        if math.isinf(number):
            raise ValueError(
                "Fail to serialize Infinity for Value.number_value, which would parse as string_value"
            )
        if math.isnan(number):
            raise ValueError(
                "Fail to serialize NaN for Value.number_value, which would parse as string_value"
            )
        return number
    if kind == "bool_value":
        return value.bool_value
    return None


def _stack_resources(servicer: Any, request: Any) -> list[Any]:
    """The ``PolicyResource`` list 1.21.0's ``AnalyzeStack`` builds (graph edges linked), built fresh."""
    from pulumi_policy.policy import PolicyResource

    intermediates: list[tuple[Any, str, list[str], dict[str, list[str]]]] = []
    for r in request.resources:
        resource = PolicyResource(
            r.type,
            _fresh_props(r.properties),
            r.urn,
            r.name,
            servicer._get_resource_options(r),
            servicer._get_provider_resource(r),
            None,
            [],
            {},
        )
        deps = {k: list(v.urns) for k, v in r.propertyDependencies.items()}
        intermediates.append((resource, r.parent, list(r.dependencies), deps))
    by_urn = {i[0].urn: i[0] for i in intermediates}
    for resource, parent, dependencies, property_dependencies in intermediates:
        if parent is not None and parent in by_urn:
            resource.parent = by_urn[parent]
        for d in dependencies:
            if d in by_urn:
                resource.dependencies.append(by_urn[d])
        for k, urns in property_dependencies.items():
            resource.property_dependencies[k] = [by_urn[d] for d in urns if d in by_urn]
    return [i[0] for i in intermediates]


_CONFIG_CACHE: list[Any] = [None, None]  # [the PULUMI_CONFIG bytes last parsed, their items or None]


def _config_env() -> dict[str, Any]:
    """What ``pulumi.runtime.get_config_env()`` returns, parsing ``PULUMI_CONFIG`` only when it changes.

    Unchanged means the very same bytes object in the environment (an O(1) identity check: the value
    is large). The parsed items are reused only when every value is immutable, so no call can see
    another's mutation.
    """
    raw = os.environb.get(b"PULUMI_CONFIG")
    if raw is None:
        return {}
    if _CONFIG_CACHE[0] is raw and _CONFIG_CACHE[1] is not None:
        return dict(_CONFIG_CACHE[1])
    parsed = json.loads(os.environ["PULUMI_CONFIG"])
    immutable = all(isinstance(v, str | int | float | bool) or v is None for v in parsed.values())
    _CONFIG_CACHE[:] = [raw, tuple(parsed.items()) if immutable else None]
    return parsed


@functools.cache
def _settings_take_organization() -> bool:
    import pulumi

    return "organization" in inspect.signature(pulumi.runtime.Settings).parameters


READS_ARGS_ONLY = "_mlops_reads_args_only"
"""Our marker on a policy object whose validation only reads its arguments (into plain copies)."""


def mark_shareable(policy: Any) -> None:
    """Let ``policy`` share the request's one conversion: its validation only reads ``args``."""
    setattr(policy, READS_ARGS_ONLY, True)


def _shares(policy: Any) -> bool:
    return bool(getattr(policy, READS_ARGS_ONLY, False))


def _run_validation(policy: Any, args: Any, report_violation: Any, view: _RequestView) -> None:
    """``policy.validate`` as the SDK runs it (awaiting an awaitable), with ``view`` current."""
    import asyncio
    from inspect import isawaitable

    previous = getattr(_CURRENT, "view", None)
    _CURRENT.view = view
    try:
        result = policy.validate(args, report_violation)
        if isawaitable(result):
            loop = asyncio.new_event_loop()
            # As the SDK runs it: validate returns a coroutine (its validations are ``async def``); the
            # SDK types it as Awaitable, and Task raises TypeError for any other awaitable.
            task = asyncio.Task(cast("Coroutine[Any, Any, object]", result), loop=loop)
            loop.run_until_complete(task)
            loop.close()
    finally:
        _CURRENT.view = previous


def shared_analysis_servicer() -> type[_PolicyAnalyzerServicer]:
    """pulumi-policy's analyzer servicer with the per-request sharing described above.

    Raises:
        SdkVersionError: another pulumi-policy than the one this mirrors is installed.
    """
    check_sdk_version()
    from pulumi_policy import policy as sdk
    from pulumi_policy.proxy import UnknownValueError

    proto = sdk.proto
    mangled = "_PolicyAnalyzerServicer__"

    class SharedAnalysisServicer(sdk._PolicyAnalyzerServicer):
        def _private(self, name: str) -> Any:
            return getattr(self, mangled + name)

        def _cannot_run(self, response: Any, policy: Any, exc: Any) -> None:
            name, version = self._private("policy_pack_name"), self._private("policy_pack_version")
            response.diagnostics.append(
                proto.AnalyzeDiagnostic(
                    policyName=policy.name,
                    policyPackName=name,
                    policyPackVersion=version,
                    message=(
                        f"can't run policy '{policy.name}' from policy pack "
                        f"'{name}@v{version}' during preview: {exc.message}"
                    ),
                    urn="",
                    description=policy.description,
                    enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY),
                )
            )

        def _configure_runtime_settings(self) -> None:
            # The SDK's, with ``PULUMI_CONFIG`` parsed once rather than on every call (it holds the whole
            # environment spec: parsing it per resource made a pack's cost grow with the square of N).
            import pulumi

            for key, value in _config_env().items():
                pulumi.runtime.set_config(key, value)
            if all(k in os.environ for k in ("PULUMI_PROJECT", "PULUMI_STACK", "PULUMI_DRY_RUN")):
                settings_args: dict[str, Any] = {
                    "project": os.environ["PULUMI_PROJECT"],
                    "stack": os.environ["PULUMI_STACK"],
                    "dry_run": os.environ["PULUMI_DRY_RUN"] == "true",
                }
                if _settings_take_organization():
                    settings_args["organization"] = os.environ.get("PULUMI_ORGANIZATION", "organization")
                pulumi.runtime.configure(pulumi.runtime.Settings(**settings_args))

        def _level(self, policy: Any) -> EnforcementLevel:
            level = self._get_enforcement_level(policy)
            return EnforcementLevel.MANDATORY if level == EnforcementLevel.REMEDIATE else level

        def Analyze(self, request: Any, _context: Any) -> Any:  # the gRPC method name
            self._configure_runtime_settings()
            response = proto.AnalyzeResponse()
            view = _RequestView(self, request)
            for policy in self._private("policies"):
                level = self._get_enforcement_level(policy)
                if level == EnforcementLevel.DISABLED or not isinstance(policy, ResourceValidationPolicy):
                    continue
                if not policy.has_validation():
                    response.not_applicable.append(
                        proto.PolicyNotApplicable(
                            policy_name=policy.name, reason="Policy does not implement validate"
                        )
                    )
                    continue
                report_violation = self._create_report_violation(
                    response, policy.name, policy.description, self._level(policy), policy.severity
                )
                if _shares(policy):
                    props, opts, provider = view.deferred_props(), view.opts(), view.provider()
                else:
                    props = _fresh_props(request.properties)
                    opts = self._get_resource_options(request)
                    provider = self._get_provider_resource(request)
                config = self._get_policy_config(policy.name)
                args = ResourceValidationArgs(
                    request.type,
                    props,
                    request.urn,
                    request.name,
                    opts,
                    provider,
                    config,
                    self._private("stack_tags"),
                )
                self._validate(response, policy, args, report_violation, view)
            return response

        def _validate(
            self, response: Any, policy: Any, args: Any, report_violation: Any, view: _RequestView
        ) -> None:
            """Run one policy as the SDK does: unknown values and not-applicable are answers, not errors."""
            try:
                _run_validation(policy, args, report_violation, view)
            except UnknownValueError as exc:
                self._cannot_run(response, policy, exc)
            except sdk._NotApplicableError as exc:
                response.not_applicable.append(
                    proto.PolicyNotApplicable(policy_name=policy.name, reason=exc.reason or "")
                )

        def AnalyzeStack(self, request: Any, _context: Any) -> Any:  # the gRPC method name
            self._configure_runtime_settings()
            response = proto.AnalyzeResponse()
            view = _RequestView(self, request)
            for policy in self._private("policies"):
                level = self._get_enforcement_level(policy)
                if level == EnforcementLevel.DISABLED or not isinstance(policy, StackValidationPolicy):
                    continue
                report_violation = self._create_report_violation(
                    response, policy.name, policy.description, self._level(policy), policy.severity
                )
                shared = _shares(policy)
                resources = view.deferred_stack_resources() if shared else _stack_resources(self, request)
                config = self._get_policy_config(policy.name)
                args = StackValidationArgs(resources, config, self._private("stack_tags"))
                self._validate(response, policy, args, report_violation, view)
            return response

    return SharedAnalysisServicer


def install_shared_analysis() -> bool:
    """Make ``PolicyPack`` serve with :func:`shared_analysis_servicer` (in a pack process, before it).

    Says so once per process, at INFO. Returns True (installed, or already installed).

    Raises:
        SdkVersionError: another pulumi-policy than the one this mirrors is installed.
    """
    from pulumi_policy import policy as sdk

    if not getattr(sdk._PolicyAnalyzerServicer, "_mlops_shared", False):
        servicer = shared_analysis_servicer()
        servicer._mlops_shared = True  # type: ignore[attr-defined]
        # Rebinding the SDK's private class on purpose: PolicyPack.__init__ looks the name up when it runs.
        sdk._PolicyAnalyzerServicer = servicer  # type: ignore[misc]
        _LOG.info("mlops packs: shared analysis on (pulumi-policy %s)", WRITTEN_FOR)
    return True
