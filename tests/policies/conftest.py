"""Start each policy pack as the Pulumi engine does, once per test module, and talk gRPC to it.

A minimal client on purpose: these tests need raw protocol access (e.g. a ``Configure`` without an
enforcement level, which the engine never sends). ``mlops_platform.tools.engine.analyzer`` is the full client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
PACKS = ("mlops-security", "mlops-reliability", "mlops-governance")
LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}


@dataclass
class Pack:
    name: str
    proc: subprocess.Popen[bytes]
    stub: analyzer_pb2_grpc.AnalyzerStub
    channel: grpc.Channel

    def info(self) -> Any:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)

    def configure_raw(self, config: dict[str, dict[str, Any]]) -> None:
        """Send ``Configure`` as given: an entry without ``enforcementLevel`` sends the proto default."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in config.items():
            props = struct_pb2.Struct()
            props.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
            policy_config = analyzer_pb2.PolicyConfig(properties=props)
            if "enforcementLevel" in entry:
                policy_config.enforcementLevel = LEVELS[entry["enforcementLevel"]]
            request.policyConfig[name].CopyFrom(policy_config)
        self.stub.Configure(request, timeout=30)

    def configure_like_engine(self, file_config: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Reconcile ``file_config`` as Pulumi's ``ReconcilePolicyPackConfig`` does, then ``Configure``.

        Mirrors pkg/resource/analyzer/config.go (defaults from the schema, then the file's entries,
        entries naming other packs' policies kept) and plugin ``analyzer.Configure`` (an entry whose
        level is empty is an error: ``invalid enforcement level ""``).
        """
        info = self.info()
        names = {v: k for k, v in LEVELS.items()}
        result: dict[str, dict[str, Any]] = {}
        for policy in info.policies:
            schema = json_format.MessageToDict(policy.configSchema.properties)
            defaults = {k: v["default"] for k, v in schema.items() if isinstance(v, dict) and "default" in v}
            result[policy.name] = {"enforcementLevel": names[policy.enforcementLevel], **defaults}
        for name, entry in file_config.items():
            current = result.get(name, {"enforcementLevel": ""})
            merged = {**current, **(entry if isinstance(entry, dict) else {"enforcementLevel": entry})}
            result[name] = merged
        for name, entry in result.items():
            if entry.get("enforcementLevel") not in LEVELS:
                raise ValueError(
                    f'configuring policy pack {self.name}: invalid enforcement level "" for {name}'
                )
        self.configure_raw(result)
        return result

    def analyze(self, type_: str, name: str, props: dict[str, Any], **options: Any) -> list[Any]:
        struct = struct_pb2.Struct()
        struct.update(props)
        request = analyzer_pb2.AnalyzeRequest(
            type=type_,
            properties=struct,
            urn=f"urn:pulumi:prod::mlops-platform::{type_}::{name}",
            name=name,
            options=analyzer_pb2.AnalyzerResourceOptions(**options),
        )
        return list(self.stub.Analyze(request, timeout=30).diagnostics)

    def analyze_stack(self, resources: list[tuple[str, str, dict[str, Any], dict[str, Any]]]) -> list[Any]:
        items = []
        for type_, name, props, options in resources:
            struct = struct_pb2.Struct()
            struct.update(props)
            items.append(
                analyzer_pb2.AnalyzerResource(
                    type=type_,
                    properties=struct,
                    urn=f"urn:pulumi:prod::mlops-platform::{type_}::{name}",
                    name=name,
                    options=analyzer_pb2.AnalyzerResourceOptions(**options),
                )
            )
        return list(
            self.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=items), timeout=30).diagnostics
        )


def start_pack(name: str) -> Pack:
    env = dict(
        os.environ,
        PULUMI_PROJECT="mlops-platform",
        PULUMI_STACK="prod",
        PULUMI_DRY_RUN="true",
        PULUMI_CONFIG=json.dumps({"mlops-platform:environment": "{}"}),
    )
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=ROOT / "policies" / name,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(
            f"{name} did not start: {line!r} {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}")
    grpc.channel_ready_future(channel).result(timeout=30)
    return Pack(name, proc, analyzer_pb2_grpc.AnalyzerStub(channel), channel)


@pytest.fixture(scope="module")
def packs() -> Iterator[dict[str, Pack]]:
    started: dict[str, Pack] = {}
    try:
        for name in PACKS:
            started[name] = start_pack(name)
        yield started
    finally:
        for pack in started.values():
            pack.channel.close()
            pack.proc.terminate()
            try:
                pack.proc.wait(5)
            except subprocess.TimeoutExpired:
                pack.proc.kill()
                pack.proc.wait()
