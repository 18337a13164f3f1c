"""Shared fixtures for component tests: Pulumi's own mocks, recording every registered resource.

``run_program(fn, stack=...)`` resets the runtime (root stack, settings, config, event loop), installs
``RecordingMocks`` behind a ``RecordingMonitor`` and runs ``fn`` the way ``pulumi.runtime.test`` does,
waiting for every registration. It returns a ``Recording``: every resource with its inputs (secrets still
wrapped, as the engine would receive them), the resource options the engine saw (protect,
retainOnDelete, dependencies, parent) and ``resolve(output)`` to await an Output after the run, which
fails on unknown values instead of passing silently.

Generated credentials derive from ``TEST_SEED`` (``secret_lookup`` serves it as the stack's
``credentialSeed``); ``credential(name)`` is the value a credential must have, and
``Recording.credentials`` holds every credential the run derived, so tests can scan every input for
secret plaintext. The seed itself contains ``SECRET_MARK``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pulumi
import pytest
import referencing
from kubernetes_validate.utils import schema_contents
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from mlops_platform.components import credentials as credentials_module
from mlops_platform.stacks.credentials_config import CREDENTIAL_SEED_KEY

PROJECT = "mlops-platform"
SECRET_MARK = "SeCrEtPlAiNtExT"
"""Part of the test seed: scanning for it finds a leaked seed."""
TEST_SEED = f"{SECRET_MARK}-credential-seed"
"""The ``credentialSeed`` of every test run (``secret_lookup``)."""
SEED_CONFIG_KEY = f"{PROJECT}:{CREDENTIAL_SEED_KEY}"
KUBERNETES_VERSION = "1.30"
SECRET_SIG = rpc._special_secret_sig
SIG_KEY = rpc._special_sig_key


@dataclass
class Recorded:
    """One resource registered under the mocks, with what the engine would have seen."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    """Deserialized inputs; secret values stay wrapped (``is_secret_value``)."""
    custom: bool
    parent: str
    protect: bool
    retain_on_delete: bool
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]

    @property
    def plain(self) -> dict[str, Any]:
        """Inputs with secret wrappers removed."""
        return unwrap_secrets(self.inputs)

    def k8s_object(self) -> dict[str, Any]:
        """The Kubernetes object as the provider would send it to the API server."""
        assert self.type.startswith("kubernetes:"), self.urn
        return self.plain


def is_secret_value(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    if is_secret_value(value):
        return unwrap_secrets(value["value"])
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def plaintext_leaks(value: Any, needle: str, path: str = "") -> list[str]:
    """Paths of strings containing ``needle`` outside a secret wrapper."""
    if is_secret_value(value):
        return []
    if isinstance(value, dict):
        return [leak for k, v in value.items() for leak in plaintext_leaks(v, needle, f"{path}.{k}")]
    if isinstance(value, list):
        return [leak for i, v in enumerate(value) for leak in plaintext_leaks(v, needle, f"{path}[{i}]")]
    return [path] if isinstance(value, str) and needle in value else []


def credential(name: str, length: int = 32, generation: int = 0) -> str:
    """The value the credential ``name`` must have under ``TEST_SEED``."""
    return credentials_module.derive(TEST_SEED, name, length=length, generation=generation)


def secret_lookup(webhook: str) -> Callable[[str], pulumi.Output[str]]:
    """A ``SecretLookup`` for ``build_platform``: ``TEST_SEED`` as the seed, ``webhook`` for any other key."""
    return lambda key: pulumi.Output.secret(TEST_SEED if key == CREDENTIAL_SEED_KEY else webhook)


@contextlib.contextmanager
def recording_credentials() -> Iterator[dict[str, str]]:
    """Every credential ``mlops_platform.components.credentials.derive`` returns meanwhile (name ->
    plaintext)."""
    derived: dict[str, str] = {}
    real = credentials_module.derive

    def derive(seed: str, name: str, **kwargs: Any) -> str:
        derived[name] = real(seed, name, **kwargs)
        return derived[name]

    credentials_module.derive = derive
    try:
        yield derived
    finally:
        credentials_module.derive = real


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Records the options of every registration and, like the engine, marks ``additionalSecretOutputs``."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: dict[str, Recorded] = {}

    def RegisterResource(self, request: Any) -> Any:
        # MockMonitor.RegisterResource, plus the engine's marking of additionalSecretOutputs.
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        pulumi_mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        args = pulumi.runtime.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        id_, state = self.mocks.new_resource(args)
        secret_outputs = set(request.additionalSecretOutputs)
        state = {k: pulumi.Output.secret(v) if k in secret_outputs else v for k, v in state.items()}
        obj_proto = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        response = resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        self.recorded[response.urn] = Recorded(
            urn=response.urn,
            type=request.type,
            name=request.name,
            inputs=inputs,
            custom=request.custom,
            parent=request.parent,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            dependencies=sorted(request.dependencies),
            property_dependencies={k: sorted(v.urns) for k, v in request.propertyDependencies.items()},
        )
        return response


@dataclass
class Recording:
    """The outcome of one program run under the mocks."""

    resources: list[Recorded]
    result: Any
    loop: asyncio.AbstractEventLoop
    credentials: dict[str, str] = field(default_factory=dict)
    """Every credential the run derived (name -> plaintext): the needles of leak scans."""
    by_urn: dict[str, Recorded] = field(init=False)

    def __post_init__(self) -> None:
        self.by_urn = {r.urn: r for r in self.resources}

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Recorded:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"{len(found)} resources named {name!r}"
        return found[0]

    def children_of(self, urn: str) -> list[Recorded]:
        """Every resource below ``urn`` (transitively)."""
        found, frontier = [], {urn}
        while frontier:
            level = [r for r in self.resources if r.parent in frontier]
            found += level
            frontier = {r.urn for r in level}
        return found

    def resolve(self, output: Any) -> Any:
        """Await an Output (or any input) after the run; unknown values fail the test."""
        asyncio.set_event_loop(self.loop)  # the run's outputs live on its loop
        out = pulumi.Output.from_input(output)

        async def known() -> tuple[Any, bool]:
            return await out.future(with_unknowns=True), await out.is_known()

        value, is_known = self.loop.run_until_complete(known())
        assert is_known, f"output {output!r} is unknown under the mocks"
        return value

    def is_secret(self, output: Any) -> bool:
        asyncio.set_event_loop(self.loop)
        return bool(self.loop.run_until_complete(pulumi.Output.from_input(output).is_secret()))


def reset_runtime() -> asyncio.AbstractEventLoop:
    """A fresh event loop, no root stack, no config: nothing leaks from one test into the next."""
    settings.ROOT.set(None)
    set_all_config({}, [])
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop


def run_program(
    program: Callable[[], Any],
    *,
    stack: str,
    config: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
    preview: bool = False,
) -> Recording:
    """Run ``program`` as the engine would (under mocks) and return every resource it registered.

    Args:
        program: builds resources; its return value is kept in ``Recording.result``.
        stack: stack name (``pulumi.get_stack()``).
        config: full config keys (``mlops-platform:serving``) to JSON strings, as the CLI sets them.
        secret_keys: config keys that are secrets.
        preview: run as ``pulumi preview``.
    """
    loop = reset_runtime()
    set_all_config(dict(config or {}), list(secret_keys))
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    box: dict[str, Any] = {}

    def body() -> None:
        box["result"] = program()

    with recording_credentials() as derived:
        _sync_await(run_pulumi_func(body))
    return Recording(
        resources=list(monitor.recorded.values()), result=box.get("result"), loop=loop, credentials=derived
    )


@pytest.fixture(autouse=True)
def _fresh_runtime() -> Iterator[None]:
    """Every test starts and ends with a clean runtime, even when it builds nothing itself."""
    reset_runtime()
    yield
    settings.ROOT.set(None)
    set_all_config({}, [])


# --- Kubernetes schema validation --------------------------------------------------------------


class KubernetesSchemas:
    """Strict official schemas (kubernetes-validate's bundle), loaded once and cached per kind."""

    def __init__(self, version: str = KUBERNETES_VERSION) -> None:
        self.version = version
        self.directory = f"kubernetes-json-schema/v{self._bundled(version)}-local-strict"
        definitions = schema_contents(f"{self.directory}/_definitions.json", version)
        self.registry: referencing.Registry = (
            referencing.Resource.from_contents(definitions) @ referencing.Registry()
        )

    @staticmethod
    def _bundled(version: str) -> str:
        from kubernetes_validate.utils import all_versions, major_minor

        return [v for v in all_versions() if major_minor(v) <= version][-1]

    @functools.cache  # noqa: B019 (one instance per session)
    def validator(self, kind: str, api_version: str) -> jsonschema.Draft202012Validator:
        group = (
            api_version.split("/")[0].split(".")[0] + "-" + api_version.split("/")[-1]
            if "/" in api_version
            else api_version
        )
        schema = schema_contents(f"{self.directory}/{kind.lower()}-{group}.json", self.version)
        registry = referencing.Resource.from_contents(schema) @ self.registry
        return jsonschema.Draft202012Validator(schema, registry=registry)

    def errors(self, obj: dict[str, Any]) -> list[str]:
        validator = self.validator(obj["kind"], obj["apiVersion"])
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


@pytest.fixture(scope="session")
def k8s_schemas() -> KubernetesSchemas:
    return KubernetesSchemas()


def as_json(value: Any) -> str:
    """Canonical JSON of inputs, for comparing two runs."""
    return json.dumps(value, sort_keys=True, default=str)
