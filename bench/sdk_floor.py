"""The SDK floor: the stack program under bare Pulumi mocks, no capture, no policies (not a test).

Usage: .venv/bin/python bench/sdk_floor.py STACK_FILE [--lean | --host] [--paused-gc]

Run by ``bench/run.py`` in a fresh process, like ``mlops audit``: same interpreter, same program
(``__main__.py``), same stack config, same resources. What it leaves out is everything an audit
adds: recording, engine fidelity, policies. Three ways to run it:

- default (the issue's floor): ``pulumi.runtime.set_mocks`` with plain ``Mocks`` returning the inputs
  as state, the SDK's ``MockMonitor`` (which deserializes every request and serializes the returned
  state again), the program run as ``@pulumi.runtime.test`` runs a test;
- ``--lean``: the same with a ``MockMonitor`` answering each registration with the request's own
  property map (no round trip, as the capture answers);
- ``--host``: the lean monitor, the program run as the Python language host runs it under
  ``pulumi preview`` (a full ``Settings``, ``run_in_stack``: the root stack's outputs registered at the
  end and every outstanding ``Output`` awaited before exit). ``set_mocks`` skips that last wait; the
  audit cannot (a resource registered inside an ``apply`` or a failing export would go unseen), so
  this is the floor under the audit's process model;
- ``--paused-gc`` (with any of the above): the cyclic garbage collector paused while the program runs,
  as the engine runs it (``mlops_platform.heap.paused_gc``): the floor under the same
  interpreter setting, so that the audit's ratio to it shows the capture's and the packs' cost alone.

Prints one JSON line: ``{"registered": N, "custom": N, "seconds": S}`` (seconds since start).
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()

REPO = Path(__file__).resolve().parents[1]
PROGRAM = REPO / "__main__.py"


def main(argv: list[str]) -> int:
    stack_file = Path(argv[0])
    lean = "--lean" in argv[1:]

    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.stack import run_pulumi_func

    sys.path.insert(0, str(REPO))
    from mlops_platform.tools.engine.config import load_stack_config

    config = load_stack_config(stack_file)
    counts: dict[str, int | float] = {"registered": 0, "custom": 0}  # "seconds" added at the end

    class EchoMocks(pulumi.runtime.Mocks):
        """Every resource's state is its inputs; every invoke returns nothing."""

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            counts["registered"] += 1
            counts["custom"] += bool(args.custom)
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
            return {}, None

    class LeanMonitor(pulumi_mocks.MockMonitor):
        """Answer with the request's own property map: no deserialize/serialize round trip."""

        def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == "pulumi:pulumi:Stack":
                return resource_pb2.RegisterResourceResponse(urn=urn)
            counts["registered"] += 1
            counts["custom"] += bool(request.custom)
            resource_id = f"{request.name}-id" if request.custom else ""
            self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, resource_id, {})
            return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=request.object)

    mocks = EchoMocks()
    if "--paused-gc" in argv[1:]:
        import gc

        gc.disable()  # what paused_gc() does around the program (restoring is moot: the process ends)
    os.chdir(PROGRAM.parent)

    def run_program() -> None:  # the SDK awaits the result only if awaitable; a dict is dropped
        runpy.run_path(str(PROGRAM), run_name="__main__")

    if "--host" in argv[1:]:
        from pulumi.runtime import settings as pulumi_settings
        from pulumi.runtime.stack import run_in_stack

        pulumi_settings.configure(
            pulumi_settings.Settings(
                project=config.project,
                stack=config.environment,
                monitor=LeanMonitor(mocks),
                engine=pulumi_mocks.MockEngine(None),
                dry_run=True,
                organization="organization",
                root_directory=str(PROGRAM.parent),
            )
        )
        pulumi.runtime.set_all_config(dict(config.values), sorted(config.secret_keys))
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(run_in_stack(run_program))
        loop.close()
    else:
        pulumi.runtime.set_all_config(dict(config.values), sorted(config.secret_keys))
        pulumi.runtime.set_mocks(
            mocks,
            project=config.project,
            stack=config.environment,
            preview=True,
            monitor=LeanMonitor(mocks) if lean else None,
        )
        # What ``@pulumi.runtime.test`` does: run the program, then wait for every outstanding RPC.
        pulumi_mocks._sync_await(run_pulumi_func(run_program))
        asyncio.get_event_loop().close()
    counts["seconds"] = round(time.perf_counter() - STARTED, 3)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
