"""Run a spec's platform under Pulumi's own mocks and record every resource (Docker target tests).

Module-local to the Docker tests: ``run_platform`` resets the root stack and the event loop, builds
the platform inside ``pulumi.runtime.test`` (so every Output is awaited before it returns) and hands
back what the mock monitor received: every resource's inputs (secrets still wrapped), its ``protect``
and ``retainOnDelete`` options and the layer component it belongs to.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings

from mlops_platform.stacks.composition import build_platform, exports
from mlops_platform.stacks.schema import EnvironmentSpec
from tests.components.conftest import SECRET_MARK, recording_credentials, secret_lookup

SECRET_SIG = rpc._special_sig_key
SECRET_VALUE = rpc._special_secret_sig
WEBHOOK_URL = "https://hooks.example.test/very-secret-token"
LAYERS = ("storage", "registry", "serving", "monitoring")
CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
NETWORK = "docker:index/network:Network"
IMAGE = "docker:index/remoteImage:RemoteImage"


def labels_of(resource: Recorded) -> dict[str, str]:
    return {item["label"]: item["value"] for item in resource.inputs.get("labels", [])}


def uploads_of(resource: Recorded) -> dict[str, Any]:
    """Container path -> upload content as recorded (secret-wrapped where it is a secret)."""
    return {item["file"]: item["content"] for item in reveal_list(resource.inputs.get("uploads", []))}


def envs_of(resource: Recorded) -> dict[str, str]:
    envs = reveal(resource.inputs.get("envs", []))
    return dict(entry.split("=", 1) for entry in envs)


def reveal_list(value: Any) -> list[Any]:
    """A list input whose items may be secret-wrapped, or which may be secret as a whole."""
    if is_secret(value):
        value = value["value"]
    return list(value)


def require_tool(name: str) -> str:
    """Path of a validator; a failure in CI (CI=true) when missing, a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is required to validate generated monitoring files"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def reveal(value: Any) -> Any:
    """The value with secret wrappers removed (for reading content, never for leak checks)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def plain_strings(value: Any) -> Iterator[str]:
    """Every string reachable from ``value`` without going through a secret wrapper."""
    if is_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Recorded] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Recorded(args.typ, args.name, args.inputs))
        state = dict(args.inputs)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"sha256:{args.name}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@dataclass
class Run:
    resources: list[Recorded]
    protect: dict[str, bool]
    """Resource name -> its ``protect`` option, as the engine (and the policies) see it."""
    retain_on_delete: dict[str, bool]
    layer: dict[str, str]
    """Resource name -> the layer component it belongs to (``storage``, ``registry``...)."""
    exports: dict[str, Any]
    credentials: dict[str, str]
    """Every credential the run derived (name -> plaintext), from ``conftest.TEST_SEED``."""

    def needles(self) -> tuple[str, ...]:
        """What must never appear in plaintext: the credentials, the seed, the webhook URL."""
        return (*self.credentials.values(), SECRET_MARK, WEBHOOK_URL)

    def of_type(self, token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> Recorded:
        (match,) = [r for r in self.resources if r.name == name]
        return match

    def counts(self, layer: str) -> dict[str, int]:
        """Resource type -> how many the layer holds (its own component excluded)."""
        result: dict[str, int] = {}
        for r in self.resources:
            if self.layer.get(r.name) == layer:
                result[r.type] = result.get(r.type, 0) + 1
        return result

    def containers(self) -> list[Recorded]:
        return self.of_type(CONTAINER)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping the resource options the engine (and the policies) would see."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.options: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.options[request.name] = {
            "protect": bool(request.protect),
            "retain_on_delete": bool(request.retainOnDelete),
            "parent": request.parent,
        }
        return super().RegisterResource(request)


def run_platform(spec: EnvironmentSpec, *, stack: str | None = None) -> Run:
    """Build ``spec``'s platform under fresh mocks; every Output awaited before returning."""
    settings.reset_options()
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="mlops-platform", stack=stack or spec.environment.name, preview=False, monitor=monitor
    )
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        platform = build_platform(spec, secret=secret_lookup(WEBHOOK_URL))
        outputs = exports(platform)
        return pulumi.Output.all(**{k: v for k, v in outputs.items() if v is not None}).apply(
            lambda resolved: holder.__setitem__("exports", resolved)
        )

    with recording_credentials() as derived:
        program()
    layers = {}
    for name, options in monitor.options.items():
        parent = options["parent"]
        while parent and parent.rsplit("::", 1)[-1] not in LAYERS:  # climb to the layer component
            parent = next((o["parent"] for n, o in monitor.options.items() if parent.endswith(f"::{n}")), "")
        if parent:
            layers[name] = parent.rsplit("::", 1)[-1]
    return Run(
        resources=list(mocks.resources),
        protect={n: o["protect"] for n, o in monitor.options.items()},
        retain_on_delete={n: o["retain_on_delete"] for n, o in monitor.options.items()},
        layer=layers,
        exports=holder["exports"],
        credentials=derived,
    )
