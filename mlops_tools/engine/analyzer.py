"""Drive CrossGuard policy packs over the real Analyzer gRPC protocol, as the Pulumi engine does.

A pack is started as the engine starts it (``python -u -m pulumi.policy <engine-addr> .`` in the
pack directory, ``PULUMI_PROJECT``/``PULUMI_STACK``/``PULUMI_DRY_RUN``/``PULUMI_CONFIG`` in its
environment, its port read from the first stdout line), then sequenced as the engine sequences it:
Handshake, ConfigureStack, GetAnalyzerInfo, Configure (with the engine's reconciliation of the
policy config), Analyze per resource, AnalyzeStack once.

A policy that raises makes the pack fail the whole call. The engine would abort; here the failing
policy is identified in a second instance of the pack (policies enabled one at a time, known
raisers disabled), reported as a ``policy-error`` finding, and the other policies' results are kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc

from mlops_platform.tools.engine import children
from mlops_platform.tools.engine.capture import Registration, duration_s, make_urn, registration_of
from mlops_platform.tools.engine.config import PROJECT
from mlops_platform.tools.findings import (
    CapturedResource,
    Check,
    Enforcement,
    Finding,
    Framework,
    PolicyMeta,
    Severity,
)

_GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),  # the packs' own limit
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
]
STARTUP_TIMEOUT_S = 60.0
# Packs and the relay run at the capturing process's priority. Niced (10), they fell behind the
# program on a loaded 2-core machine and the audit waited for them at the end (measured, 100 models:
# 13.8-14.9 s niced vs 12.2-12.6 s not, the program itself no slower).
PACK_NICENESS = 0
CALL_TIMEOUT_S = 600.0

# The one conversion between the analyzer protocol's numbers and the audit's enums, by name: a level
# or severity the protocol adds has no member here and fails at import (see ``findings``).
_LEVELS: dict[Enforcement, int] = {Enforcement[name]: n for name, n in analyzer_pb2.EnforcementLevel.items()}
_LEVEL_OF: dict[int, Enforcement] = {n: level for level, n in _LEVELS.items()}
_SEVERITIES: dict[int, Severity] = {
    n: Severity[name.removeprefix("POLICY_SEVERITY_")] for name, n in analyzer_pb2.PolicySeverity.items()
}


class PackError(RuntimeError):
    """A pack could not be started or stopped answering (not a policy raising: that is a finding)."""


class PolicyConfigError(ValueError):
    """The policy configuration is invalid (unknown policy, bad enforcement level)."""


# -- the engine service packs may call back -----------------------------------------------------


class _EngineServicer(engine_pb2_grpc.EngineServicer):
    """The minimal ``pulumirpc.Engine`` a pack can log to."""

    def __init__(self) -> None:
        self.logs: list[tuple[str, str]] = []
        self._root = ""

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        severity = engine_pb2.LogSeverity.Name(request.severity).lower()
        self.logs.append((severity, request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(self, request: Any, context: Any) -> Any:
        self._root = request.urn
        return engine_pb2.SetRootResourceResponse()

    def RequirePulumiVersion(self, request: Any, context: Any) -> Any:
        return engine_pb2.RequirePulumiVersionResponse()


class EngineServer:
    """A gRPC server at the engine address given to packs."""

    def __init__(self) -> None:
        self.servicer = _EngineServicer()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=_GRPC_OPTIONS)
        engine_pb2_grpc.add_EngineServicer_to_server(self.servicer, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None)


# -- configuration, as the engine reconciles it -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfiguredPolicy:
    """One policy's level and properties as ``Configure`` sends them (the protocol's ``PolicyConfig``).

    Not ``policy_config.PolicyConfig``, the environment's config document this is reconciled from.
    """

    enforcement: Enforcement
    properties: dict[str, Any]


def reconcile_config(
    info: Any, given: dict[str, Any] | None, *, strict: bool = True
) -> dict[str, ConfiguredPolicy]:
    """The config the engine sends in ``Configure``: defaults, then initial config, then ``given``.

    A policy's entry without ``enforcementLevel`` keeps its default level (the engine fills the level
    in; a bare protobuf default would silently mean advisory). ``all`` sets every policy's level.

    Args:
        info: the pack's ``AnalyzerInfo``.
        given: the policy config file's content for this pack (``{policy: level | {...}}``).
        strict: reject entries naming no policy of this pack.

    Raises:
        PolicyConfigError: unknown policy (when strict) or enforcement level.
    """
    result: dict[str, ConfiguredPolicy] = {}
    for policy in info.policies:
        props: dict[str, Any] = {}
        schema = _struct_dict(policy.configSchema.properties)
        for key, prop_schema in schema.items():
            if isinstance(prop_schema, dict) and "default" in prop_schema:
                props[key] = prop_schema["default"]
        result[policy.name] = ConfiguredPolicy(_LEVEL_OF[policy.enforcementLevel], props)

    def apply(config: dict[str, Any], source: str) -> None:
        all_entry = config.get("all")
        if all_entry is not None:
            level = _entry_level(all_entry, "all", source)
            if level:
                for name, current in result.items():
                    result[name] = ConfiguredPolicy(level, current.properties)
        for name, entry in config.items():
            if name == "all":
                continue
            if name not in result:
                if strict:
                    raise PolicyConfigError(f"{source}: no policy named {name!r} in pack {info.name!r}")
                continue
            level = _entry_level(entry, name, source)
            current = result[name]
            props = dict(current.properties)
            if isinstance(entry, dict):
                props.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
            result[name] = ConfiguredPolicy(level or current.enforcement, props)

    initial = {
        name: {
            **({"enforcementLevel": _LEVEL_OF[c.enforcementLevel].value} if c.enforcementLevel else {}),
            **_struct_dict(c.properties),
        }
        for name, c in info.initialConfig.items()
    }
    apply(initial, f"initial config of {info.name}")
    if given:
        apply(given, "policy config")
    return result


def _entry_level(entry: Any, name: str, source: str) -> Enforcement | None:
    level = (
        entry
        if isinstance(entry, str)
        else entry.get("enforcementLevel")
        if isinstance(entry, dict)
        else None
    )
    if entry is not None and not isinstance(entry, (str, dict)):
        raise PolicyConfigError(f"{source}: {name}: expected an enforcement level or an object")
    if level is None:
        return None
    if level not in _LEVELS:
        raise PolicyConfigError(
            f"{source}: {name}: invalid enforcementLevel {level!r} (expected one of {', '.join(Enforcement)})"
        )
    return Enforcement(level)


def _struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)


def _configure_request(config: dict[str, ConfiguredPolicy]) -> Any:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in config.items():
        pc = request.policyConfig[name]
        pc.enforcementLevel = _LEVELS[entry.enforcement]  # type: ignore[assignment]
        if entry.properties:
            pc.properties.update(entry.properties)
    return request


# -- requests ---------------------------------------------------------------------------------


def registration_options(reg: Registration) -> Any:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=reg.protect,
        ignoreChanges=list(reg.ignore_changes),
        deleteBeforeReplace=bool(reg.delete_before_replace),
        deleteBeforeReplaceDefined=reg.delete_before_replace is not None,
        additionalSecretOutputs=list(reg.additional_secret_outputs),
        aliases=list(reg.aliases),
        # The engine always sends custom timeouts (zero when unset), in seconds.
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=duration_s(reg.custom_timeouts.get("create", "")),
            update=duration_s(reg.custom_timeouts.get("update", "")),
            delete=duration_s(reg.custom_timeouts.get("delete", "")),
        ),
        parent=reg.parent,
    )


def provider_resource(reg: Registration | None) -> Any:
    if reg is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=reg.type, properties=reg.engine_inputs, urn=reg.urn, name=reg.name
    )


def analyze_request(reg: Registration, provider: Registration | None) -> Any:
    """The ``AnalyzeRequest`` the engine sends for a registration (inputs, options, provider)."""
    return analyzer_pb2.AnalyzeRequest(
        type=reg.type,
        properties=reg.engine_inputs,
        urn=reg.urn,
        name=reg.name,
        options=registration_options(reg),
        provider=provider_resource(provider),
    )


def stack_resource(reg: Registration, provider: Registration | None) -> Any:
    """An ``AnalyzerResource`` for ``AnalyzeStack``: outputs, options, provider and the graph edges."""
    return analyzer_pb2.AnalyzerResource(
        type=reg.type,
        properties=reg.outputs,
        urn=reg.urn,
        name=reg.name,
        options=registration_options(reg),
        provider=provider_resource(provider),
        parent=reg.parent,
        dependencies=list(reg.dependencies),
        propertyDependencies={
            k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
            for k, v in reg.property_dependencies.items()
            if v
        },
    )


def make_resource(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    *,
    stack: str = "test",
    project: str = PROJECT,
    parent: str | None = None,
    custom: bool = True,
    protect: bool = False,
    **options: Any,
) -> CapturedResource:
    """A ``CapturedResource`` built by hand (for policy tests), its URN computed as the engine would."""
    urn = make_urn(stack, project, parent or "", type_, name)
    return CapturedResource(
        urn=urn,
        type=type_,
        name=name,
        custom=custom,
        inputs=inputs,
        parent=parent,
        protect=protect,
        **options,
    )


_TEST_SECRET = "mock-secret-value"


def captured_request(resource: CapturedResource) -> Any:
    """An ``AnalyzeRequest`` for a hand-built or captured resource (secret markers become placeholders)."""
    return analyze_request(registration_of(resource, _TEST_SECRET), None)


def _captured_stack_resource(resource: CapturedResource) -> Any:
    return stack_resource(registration_of(resource, _TEST_SECRET), None)


# -- results ----------------------------------------------------------------------------------


@dataclass(slots=True)
class AnalysisResult:
    """What one pack said about one resource (or the stack): findings and the checks that ran."""

    findings: list[Finding] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)  # policy -> the pack's reason
    # The same pairs as checks that did not count: (policy, pack, urn) of each not-applicable answer.
    skipped: list[Check] = field(default_factory=list)

    def extend(self, other: AnalysisResult) -> None:
        self.findings.extend(other.findings)
        self.checks.extend(other.checks)
        self.not_applicable.update(other.not_applicable)
        self.skipped.extend(other.skipped)


def _error_details(exc: grpc.RpcError) -> str:
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return (details or str(exc)).removeprefix("Exception calling application: ")


class RelayedRpcError(grpc.RpcError):
    """A failed ``Analyze`` made by the relay process, with the call's status code and details."""

    def __init__(self, status: int, details: str) -> None:
        super().__init__(details)
        self._code = _STATUS_CODES.get(status, grpc.StatusCode.UNKNOWN)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _is_policy_failure(exc: grpc.RpcError) -> bool:
    """An application exception inside the pack (a policy raised), not a dead or unreachable pack."""
    return hasattr(exc, "code") and exc.code() == grpc.StatusCode.UNKNOWN


# -- one pack process ---------------------------------------------------------------------------

# Linux refuses to start a process with one environment string over MAX_ARG_STRLEN (32 pages).
MAX_ENV_STRING_BYTES = 32 * 4096


def config_fits_environment(encoded: str) -> bool:
    """Whether ``PULUMI_CONFIG=<encoded>`` can be passed to a process at all."""
    return len(b"PULUMI_CONFIG=") + len(encoded.encode()) + 1 <= MAX_ENV_STRING_BYTES


def oversized_config_message(size: int) -> str:
    return (
        f"the stack config is {size // 1024} KiB as JSON, over the {MAX_ENV_STRING_BYTES // 1024} KiB "
        "the system allows one environment variable: the Pulumi engine, which hands it to policy packs "
        "as PULUMI_CONFIG, cannot start them for this stack. The packs here start without "
        "PULUMI_CONFIG (ConfigureStack still carries the config); a policy reading the stack config "
        "through pulumi.Config sees none."
    )


class PackProcess:
    """A policy pack process started as the engine starts it, and the Analyzer stub to it."""

    def __init__(
        self,
        pack_dir: Path,
        *,
        engine_address: str,
        project: str,
        stack: str,
        config: dict[str, str],
        dry_run: bool = True,
        extra_env: dict[str, str] | None = None,
        python: str | None = None,
    ) -> None:
        self.pack_dir = pack_dir.resolve()
        env = dict(os.environ)
        env.update(
            {
                "PULUMI_PROJECT": project,
                "PULUMI_STACK": stack,
                "PULUMI_DRY_RUN": "true" if dry_run else "false",
                "PULUMI_ORGANIZATION": "organization",
            }
        )
        env.pop("PULUMI_CONFIG", None)
        if config:
            encoded = json.dumps(config, sort_keys=True)
            if config_fits_environment(encoded):
                env["PULUMI_CONFIG"] = encoded
            else:
                warnings.warn(oversized_config_message(len(encoded)), RuntimeWarning, stacklevel=2)
        env.update(extra_env or {})
        # A process group of its own, stopped on every signal and at exit (children.py).
        self._proc = children.spawn(
            children.python_module(python or sys.executable, "pulumi.policy", engine_address, "."),
            cwd=self.pack_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # The program under capture is the critical path (single-threaded, like the language host);
        # packs analyze streamed resources in the time the program leaves on the other cores.
        if PACK_NICENESS:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self._proc.pid, PACK_NICENESS)
        self._stderr: list[bytes] = []
        self._stderr_thread = threading.Thread(
            target=self._drain, args=(self._proc.stderr, True), daemon=True
        )
        self._stderr_thread.start()
        self.stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self.analyze_bytes: Callable[..., Any] | None = None
        self.address = ""
        self._channel: grpc.Channel | None = None

    def _drain(self, stream: Any, keep: bool) -> None:
        for line in iter(stream.readline, b""):
            if keep:
                self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    def connect(self, timeout_s: float = STARTUP_TIMEOUT_S) -> analyzer_pb2_grpc.AnalyzerStub:
        """Read the port from the first stdout line and open the channel."""
        if self.stub is not None:
            return self.stub
        assert self._proc.stdout is not None
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(self._proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout_s)
        line = result[0].strip() if result else b""
        if not line.isdigit():
            self.close()
            self._stderr_thread.join(2)
            raise PackError(
                f"policy pack {self.pack_dir} did not start (first stdout line {line!r}):\n"
                + self.stderr[-4000:]
            )
        threading.Thread(target=self._drain, args=(self._proc.stdout, False), daemon=True).start()
        self.address = f"127.0.0.1:{int(line)}"
        self._channel = grpc.insecure_channel(self.address, options=_GRPC_OPTIONS)
        grpc.channel_ready_future(self._channel).result(timeout=timeout_s)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        # ``Analyze`` taking an already serialized request: the audit serializes each resource once
        # and sends the same bytes to every pack.
        self.analyze_bytes = self._channel.unary_unary(
            "/pulumirpc.Analyzer/Analyze",
            request_serializer=None,
            response_deserializer=analyzer_pb2.AnalyzeResponse.FromString,
        )
        self.analyze_stack_bytes = self._channel.unary_unary(
            "/pulumirpc.Analyzer/AnalyzeStack",
            request_serializer=None,
            response_deserializer=analyzer_pb2.AnalyzeResponse.FromString,
        )
        return self.stub

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        children.forget(self._proc)


# -- a configured pack session -------------------------------------------------------------------


def pack_version_from_yaml(pack_dir: Path) -> str:
    """The version in ``PulumiPolicy.yaml``: the engine prefers it over the pack's own."""
    try:
        doc = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""
    return str(doc.get("version", "")) if isinstance(doc, dict) else ""


class PackSession:
    """A started, configured policy pack: ``info()``, ``configure()``, ``analyze()``, ``analyze_stack()``.

    ``submit()`` queues an Analyze without waiting (the audit streams resources while the program
    runs; a sender thread delivers them as soon as the pack is configured); ``collect()`` gathers
    every queued result. Thread-safe.
    """

    def __init__(
        self,
        pack_dir: Path,
        *,
        engine_address: str,
        project: str = PROJECT,
        stack: str = "test",
        config: dict[str, str] | None = None,
        policy_config: dict[str, Any] | None = None,
        strict_config: bool = True,
        redact: Callable[[str], str] | None = None,
        extra_env: dict[str, str] | None = None,
        workers: int = 1,
        python: str | None = None,
    ) -> None:
        self.pack_dir = pack_dir.resolve()
        self._spawn_args = {
            "engine_address": engine_address,
            "project": project,
            "stack": stack,
            "config": dict(config or {}),
            "extra_env": extra_env,
            "python": python,
        }
        self.project, self.stack = project, stack
        self._policy_config = policy_config
        self._strict = strict_config
        self._redact = redact or (lambda s: s)
        # Several processes of one pack share its queue of streamed resources (each resource still
        # goes to exactly one of them): a pack slower than the program does not become the tail.
        self._workers = [
            PackProcess(self.pack_dir, **self._spawn_args)  # type: ignore[arg-type]
            for _ in range(max(1, workers))
        ]
        self._process = self._workers[0]
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._queue: queue.SimpleQueue[tuple[int, Any, Any, bytes | None] | None] = queue.SimpleQueue()
        self._outcomes: list[tuple[int, Any, Any, Any]] = []
        self._submitted = 0
        self._closing = False
        self._senders: list[threading.Thread] = []
        self._fallback: PackSession | None = None
        self._fallback_lock = threading.Lock()
        self._raisers: set[str] = set()
        self.info_response: Any = None
        self.config: dict[str, ConfiguredPolicy] = {}
        self.name = self.pack_dir.name
        self.version = ""

    # protocol steps ----------------------------------------------------------------------------

    def start(self) -> PackSession:
        """Connect, then Handshake, ConfigureStack, GetAnalyzerInfo and Configure, in the engine's order."""
        try:
            for worker in self._workers:
                self._introduce(worker.connect())
            stub = self._process.connect()
            self.info_response = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT_S)
            self.name = self.info_response.name or self.name
            self.version = pack_version_from_yaml(self.pack_dir) or self.info_response.version
            self.configure(self._policy_config)
        except grpc.RpcError as exc:
            self._start_error = PackError(
                f"policy pack {self.pack_dir}: {_error_details(exc)}\n{self.stderr}"
            )
            self._ready.set()
            raise self._start_error from exc
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            raise
        self._mark_ready()
        return self

    def _introduce(self, stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
        """Handshake and ConfigureStack, tolerating packs too old to implement them (as the engine does)."""
        try:
            stub.Handshake(
                analyzer_pb2.AnalyzerHandshakeRequest(
                    engine_address=self._spawn_args["engine_address"],  # type: ignore[arg-type]
                    root_directory=str(self.pack_dir),
                    program_directory=str(self.pack_dir),
                ),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
        try:
            stub.ConfigureStack(
                analyzer_pb2.AnalyzerStackConfigureRequest(
                    stack=self.stack,
                    project=self.project,
                    organization="organization",
                    dry_run=True,
                    config=self._spawn_args["config"],  # type: ignore[arg-type]
                ),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise

    def info(self) -> list[PolicyMeta]:
        """The pack's policies as ``GetAnalyzerInfo`` describes them, with the configured levels."""
        self._wait_ready()
        metas = []
        for p in self.info_response.policies:
            fw = p.framework if p.HasField("framework") else None
            metas.append(
                PolicyMeta(
                    name=p.name,
                    pack=self.name,
                    pack_version=self.version,
                    display_name=p.displayName,
                    description=p.description,
                    enforcement=self.config[p.name].enforcement,
                    severity=_SEVERITIES.get(p.severity, Severity.UNSPECIFIED),
                    framework=Framework(fw.name, fw.version, fw.reference, fw.specification) if fw else None,
                    tags=tuple(p.tags),
                    remediation_steps=p.remediation_steps,
                    url=p.url,
                    stack_level=p.policy_type == analyzer_pb2.POLICY_TYPE_STACK,
                )
            )
        return sorted(metas, key=lambda m: m.name)

    def configure(self, policy_config: dict[str, Any] | None = None, *, strict: bool | None = None) -> None:
        """Reconcile ``policy_config`` with the pack's defaults and send ``Configure``."""
        self.config = reconcile_config(
            self.info_response, policy_config, strict=self._strict if strict is None else strict
        )
        request = _configure_request(self.config)
        for worker in self._workers:
            assert worker.stub is not None
            worker.stub.Configure(request, timeout=CALL_TIMEOUT_S)

    @property
    def _stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        assert self._process.stub is not None
        return self._process.stub

    @property
    def stderr(self) -> str:
        return self._process.stderr

    def _mark_ready(self) -> None:
        self._ready.set()
        self._ensure_sender()

    def _ensure_sender(self) -> None:
        with self._lock:
            if not any(t.is_alive() for t in self._senders):
                self._senders = [
                    threading.Thread(
                        target=self._send_loop, args=(w,), name=f"analyze-{self.name}", daemon=True
                    )
                    for w in self._workers
                ]
                for t in self._senders:
                    t.start()

    def _send_loop(self, worker: PackProcess) -> None:
        """Send queued Analyze calls one at a time, blocking.

        Blocking calls from one thread per pack process, not gRPC futures: hundreds of in-flight
        futures make gRPC's Python completion handling fight the capturing program for the GIL
        (measured: 4x the program's CPU time); a blocking call releases the GIL while it waits.
        """
        stub, analyze_bytes = worker.stub, worker.analyze_bytes
        assert stub is not None and analyze_bytes is not None
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.put(None)  # let the other senders of this pack stop too
                return
            if self._closing:
                continue
            seq, request, key, payload = item
            try:
                if payload is None:
                    outcome: Any = stub.Analyze(request, timeout=CALL_TIMEOUT_S)
                else:
                    outcome = analyze_bytes(payload, timeout=CALL_TIMEOUT_S)
            except grpc.RpcError as exc:
                outcome = exc
            except ValueError:  # the channel was closed under us: the session is shutting down
                return
            self._outcomes.append((seq, request, key, outcome))

    def _wait_ready(self) -> None:
        self._ready.wait()
        if self._start_error is not None:
            raise PackError(f"policy pack {self.pack_dir} failed to start: {self._start_error}")

    # analysis ---------------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        return {p.name: p for p in self.info_response.policies}

    def _enabled(self, *, stack_level: bool) -> list[str]:
        want = analyzer_pb2.POLICY_TYPE_STACK if stack_level else analyzer_pb2.POLICY_TYPE_RESOURCE
        return [
            p.name
            for p in self.info_response.policies
            if p.policy_type == want and self.config[p.name].enforcement is not Enforcement.DISABLED
        ]

    def _finding(self, diag: Any, urn: str, resource_type: str) -> Finding:
        meta = self._meta().get(diag.policyName)
        level = _LEVEL_OF.get(diag.enforcementLevel, Enforcement.ADVISORY).reported
        severity = _SEVERITIES.get(diag.severity, Severity.UNSPECIFIED)
        if severity is Severity.UNSPECIFIED and meta is not None:
            severity = _SEVERITIES.get(meta.severity, Severity.UNSPECIFIED)
        message = diag.message
        description = diag.description or (meta.description if meta is not None else "")
        if description and message.startswith(description):
            message = message[len(description) :].lstrip("\n") or description
        return Finding(
            policy=diag.policyName,
            pack=diag.policyPackName or self.name,
            enforcement=level,
            severity=severity,
            urn=urn,
            resource_type=resource_type,
            message=self._redact(message),
        )

    def _error_finding(self, policy: str, urn: str, resource_type: str, details: str) -> Finding:
        meta = self._meta().get(policy)
        level = self.config[policy].enforcement if policy in self.config else Enforcement.MANDATORY
        return Finding(
            policy=policy,
            pack=self.name,
            enforcement=level.reported,
            severity=_SEVERITIES.get(meta.severity, Severity.UNSPECIFIED) if meta else Severity.UNSPECIFIED,
            urn=urn,
            resource_type=resource_type,
            message=self._redact(f"policy raised an exception: {details.strip()}"),
            kind="policy-error",
        )

    def _result(
        self, response: Any, urn: str, resource_type: str, *, stack_level: bool, ran: Sequence[str]
    ) -> AnalysisResult:
        result = AnalysisResult()
        for na in response.not_applicable:
            result.not_applicable[na.policy_name] = na.reason
            result.skipped.append(Check(policy=na.policy_name, pack=self.name, urn=urn))
        for name in ran:
            if name not in result.not_applicable:
                result.checks.append(Check(policy=name, pack=self.name, urn=urn))
        for diag in response.diagnostics:
            target = urn
            if stack_level:
                target = diag.urn
            result.findings.append(self._finding(diag, target, resource_type))
        return result

    def submit(self, request: Any, key: Any = None, payload: bytes | None = None) -> None:
        """Queue an ``Analyze`` (sent as soon as the pack is configured); results come from ``collect``.

        Args:
            request: the ``AnalyzeRequest``.
            key: returned with its result by ``collect``.
            payload: ``request`` already serialized (one serialization shared by every pack), or None.
        """
        with self._lock:
            self._submitted += 1
            seq = self._submitted
        self._queue.put((seq, request, key, payload))

    @property
    def addresses(self) -> list[str]:
        """The gRPC addresses of this pack's processes (once started)."""
        return [worker.address for worker in self._workers]

    def deliver(self, request: Any, key: Any, outcome: Any) -> None:
        """Record an ``Analyze`` made elsewhere (the relay) as if ``submit`` had made it.

        Args:
            request: the ``AnalyzeRequest`` sent.
            key: returned with its result by ``collect``.
            outcome: the ``AnalyzeResponse``, or the ``grpc.RpcError`` the call failed with.
        """
        with self._lock:
            self._submitted += 1
            self._outcomes.append((self._submitted, request, key, outcome))

    def collect(self) -> list[tuple[Any, AnalysisResult]]:
        """Wait for every submitted ``Analyze`` and return ``(key, result)`` in submission order."""
        self._wait_ready()
        self._queue.put(None)
        with self._lock:
            senders = list(self._senders)
        for sender in senders:
            sender.join()
        self._queue = queue.SimpleQueue()
        self._ensure_sender()
        # Workers finish in any order: restore submission order for deterministic results.
        outcomes, self._outcomes = sorted(self._outcomes, key=lambda o: o[0]), []
        out = []
        ran = self._enabled(stack_level=False)  # the same for every resource of this collect
        for _seq, request, key, outcome in outcomes:
            if isinstance(outcome, grpc.RpcError):
                out.append((key, self._recover(request, outcome)))
                continue
            out.append((key, self._result(outcome, request.urn, request.type, stack_level=False, ran=ran)))
        return out

    def analyze(self, resource: CapturedResource | Registration | Any) -> AnalysisResult:
        """Analyze one resource now (a ``CapturedResource``, a ``Registration`` or an ``AnalyzeRequest``)."""
        self._wait_ready()
        if isinstance(resource, CapturedResource):
            resource = registration_of(resource, _TEST_SECRET)
        request = analyze_request(resource, None) if isinstance(resource, Registration) else resource
        try:
            response = self._stub.Analyze(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            return self._recover(request, exc)
        return self._result(
            response, request.urn, request.type, stack_level=False, ran=self._enabled(stack_level=False)
        )

    def analyze_stack(
        self, resources: Sequence[CapturedResource | Any], *, type_of: dict[str, str] | None = None
    ) -> AnalysisResult:
        """Run ``AnalyzeStack`` once over ``resources`` (``CapturedResource`` or ``AnalyzerResource``)."""
        items = [
            stack_resource(registration_of(r, _TEST_SECRET), None) if isinstance(r, CapturedResource) else r
            for r in resources
        ]
        types = dict(type_of or {})
        types.update({r.urn: r.type for r in items})
        request = analyzer_pb2.AnalyzeStackRequest(resources=items)
        return self.analyze_stack_request(request, types=types)

    def analyze_stack_request(
        self, request: Any, *, types: dict[str, str], payload: bytes | None = None
    ) -> AnalysisResult:
        """``analyze_stack`` of an ``AnalyzeStackRequest``, sent as ``payload`` when serialized already.

        Args:
            request: the request, or None with ``payload`` (the failure path, which re-sends the
                request, parses it back from ``payload``).
            types: the type of each URN the request names (findings carry it).
            payload: the request serialized (one serialization shared by every pack), or None.
        """
        self._wait_ready()
        ran = self._enabled(stack_level=True)
        try:
            if payload is None:
                response = self._stub.AnalyzeStack(request, timeout=CALL_TIMEOUT_S)
            else:
                response = self._process.analyze_stack_bytes(payload, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return AnalysisResult()
            if request is None:
                request = analyzer_pb2.AnalyzeStackRequest.FromString(payload)
            return self._recover(request, exc, stack_level=True, types=types)
        result = self._result(response, "", "", stack_level=True, ran=ran)
        result.findings = [
            Finding(
                **{
                    **_finding_fields(f),
                    "urn": f.urn if f.urn in types else "",
                    "resource_type": types.get(f.urn, ""),
                }
            )
            for f in result.findings
        ]
        return result

    # failure isolation --------------------------------------------------------------------------

    def _fallback_session(self) -> PackSession:
        if self._fallback is None:
            self._fallback = PackSession(
                self.pack_dir,
                policy_config=self._policy_config,
                strict_config=self._strict,
                redact=self._redact,
                **self._spawn_args,  # type: ignore[arg-type]
            ).start()
        return self._fallback

    def _call(self, session: PackSession, request: Any, only: set[str] | None, disabled: set[str]) -> Any:
        """Analyze in the fallback with a modified config: ``only`` these enabled, ``disabled`` off."""
        config = {}
        for name, entry in self.config.items():
            off = name in disabled or (only is not None and name not in only)
            config[name] = ConfiguredPolicy(
                Enforcement.DISABLED if off else entry.enforcement, entry.properties
            )
        session._stub.Configure(_configure_request(config), timeout=CALL_TIMEOUT_S)
        if isinstance(request, analyzer_pb2.AnalyzeStackRequest):
            return session._stub.AnalyzeStack(request, timeout=CALL_TIMEOUT_S)
        return session._stub.Analyze(request, timeout=CALL_TIMEOUT_S)

    def _recover(
        self,
        request: Any,
        exc: grpc.RpcError,
        *,
        stack_level: bool = False,
        types: dict[str, str] | None = None,
    ) -> AnalysisResult:
        """Identify which policies raised on ``request``; keep every other policy's result.

        In the fallback instance: run with the policies known to raise disabled; when that still
        fails, run the remaining policies one at a time to find the new raisers. Known raisers are
        then run alone on this request (unless only one can be to blame), so each one's outcome on
        this resource is known: an error finding, or its ordinary result.
        """
        if not _is_policy_failure(exc):
            raise PackError(
                f"policy pack {self.name} failed: {_error_details(exc)}\n{self.stderr[-4000:]}"
            ) from exc
        urn = "" if stack_level else request.urn
        rtype = "" if stack_level else request.type
        candidates = self._enabled(stack_level=stack_level)
        responses: list[tuple[Any, list[str]]] = []
        errors: dict[str, str] = {}
        with self._fallback_lock:
            fallback = self._fallback_session()
            while True:
                try:
                    response = self._call(fallback, request, None, self._raisers)
                except grpc.RpcError as retry_exc:
                    if not _is_policy_failure(retry_exc):
                        raise PackError(
                            f"policy pack {self.name} failed: {_error_details(retry_exc)}"
                        ) from retry_exc
                    rest = [c for c in candidates if c not in self._raisers]
                    new = self._isolate(fallback, request, rest, errors, None)
                    if not new:
                        break
                    self._raisers |= new
                    continue
                responses.append((response, [c for c in candidates if c not in self._raisers]))
                break
            suspects = [c for c in candidates if c in self._raisers and c not in errors]
            if len(suspects) == 1 and not errors and responses:
                errors[suspects[0]] = _error_details(exc)
            elif suspects:
                self._isolate(fallback, request, suspects, errors, responses)
        result = AnalysisResult()
        for response, ran in responses:
            result.extend(self._result(response, urn, rtype, stack_level=stack_level, ran=ran))
        if stack_level and types is not None:
            result.findings = [
                Finding(
                    **{
                        **_finding_fields(f),
                        "urn": f.urn if f.urn in types else "",
                        "resource_type": types.get(f.urn, ""),
                    }
                )
                for f in result.findings
            ]
        if not errors or not responses:
            # The call failed but no policy can be blamed alone: report the pack, drop nothing silently.
            errors.setdefault(f"{self.name}/*", _error_details(exc))
        for policy, details in sorted(errors.items()):
            result.checks.append(Check(policy=policy, pack=self.name, urn=urn))
            result.findings.append(self._error_finding(policy, urn, rtype, details))
        return result

    def _isolate(
        self,
        fallback: PackSession,
        request: Any,
        policies: Sequence[str],
        errors: dict[str, str],
        responses: list[tuple[Any, list[str]]] | None,
    ) -> set[str]:
        """Run each policy alone; record those that raise (returned) and, if asked, the others' results."""
        raised: set[str] = set()
        for policy in policies:
            try:
                response = self._call(fallback, request, {policy}, set())
            except grpc.RpcError as exc:
                if not _is_policy_failure(exc):
                    raise PackError(f"policy pack {self.name} failed: {_error_details(exc)}") from exc
                errors[policy] = _error_details(exc)
                raised.add(policy)
                continue
            if responses is not None:
                responses.append((response, [policy]))
        return raised

    def close(self) -> None:
        self._closing = True
        self._queue.put(None)
        for sender in list(self._senders):
            sender.join(timeout=5)  # a call still running is abandoned: its channel closes below
        if self._fallback is not None:
            self._fallback.close()
        for worker in self._workers:
            worker.close()


def _finding_fields(f: Finding) -> dict[str, Any]:
    return {name: getattr(f, name) for name in Finding.__dataclass_fields__}


@contextmanager
def start_pack(
    pack_dir: Path,
    *,
    stack: str = "test",
    config: dict[str, str] | None = None,
    policy_config: dict[str, Any] | None = None,
    project: str = PROJECT,
    extra_env: dict[str, str] | None = None,
    python: str | None = None,
) -> Iterator[PackSession]:
    """Start one pack as the engine does, configured, for tests and tools.

    Args:
        pack_dir: the pack directory (holding ``PulumiPolicy.yaml`` and ``__main__.py``).
        stack: the stack name the pack is told (``PULUMI_STACK``).
        config: the stack's runtime config (``PULUMI_CONFIG``).
        policy_config: the policy config for this pack (``{policy: level | {...}}``).
        project: the project name (``PULUMI_PROJECT``).
        extra_env: more environment for the pack process.
        python: the interpreter that runs the pack (default: this one), e.g. a pack's own venv.

    Yields:
        A started ``PackSession``.
    """
    engine = EngineServer()
    session = PackSession(
        pack_dir,
        engine_address=engine.address,
        project=project,
        stack=stack,
        config=config,
        policy_config=policy_config,
        extra_env=extra_env,
        python=python,
    )
    try:
        session.start()
        yield session
    finally:
        session.close()
        engine.stop()
