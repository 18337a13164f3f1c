"""``python -m mlops_platform.tools.local_cluster``, the documented script: a failed start is one message.

Run with ``-m``, the script's file is the module ``__main__``, a second copy beside the
``mlops_platform.tools.local_cluster`` that the node's code imports; a node that failed to start (a
part exiting at once) raised the other copy's ``ClusterError``, which went out as a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# As `python -m` runs the script (runpy, as __main__), with the node's start failing the way a part that
# exits at once makes it fail, and binaries that need not exist: the start is replaced.
_FAILING_NODE = """
import runpy, sys
from pathlib import Path
from mlops_platform.tools import local_cluster
from mlops_platform.tools.node import cluster

def failing_start(*args, **kwargs):
    raise local_cluster.ClusterError("metrics-server exited with 2; last lines of metrics-server.log: panic")

local_cluster.toolchain_binaries = lambda: local_cluster.ControlPlaneBinaries(*[Path("/bin/true")] * 3)
cluster.toolchain_node_binaries = lambda: object()
cluster.running = failing_start
sys.argv = ["local_cluster", sys.argv[1], "--node"]
runpy.run_module("mlops_platform.tools.local_cluster", run_name="__main__", alter_sys=True)
"""


def test_a_node_that_fails_to_start_is_one_message_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FAILING_NODE, str(tmp_path / "cluster")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "metrics-server exited with 2" in done.stderr
