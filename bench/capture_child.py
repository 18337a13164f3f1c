"""Experiment (not a test): the program captured in a child process that exits before the packs judge.

Usage: .venv/bin/python bench/capture_child.py STACK_FILE [--in-process]

Issue 27 asks whether running the user's program in a child process, which streams each registration
to the parent and hands it the captured resources at the end, then exits (releasing the SDK's heap),
brings the audit's tree under 1.5 GB at 1,000 models. This measures the parts that decide it, with
no packs and no relay (their figures are the bench's: three packs idle at ~68 MB each during the
program, the judging one ~301 MB):

- child mode (default): a child process (``--child``, started as the audit would start it: a fresh
  interpreter) runs the program under the capture, serializes each registration's AnalyzeRequest
  as the dispatcher does and writes it to the parent (which reads and counts them: what a parent
  forwarding them to the relay reads), then pickles the ``Capture`` to the parent and exits;
- ``--in-process``: the capture as the audit runs it today, in this process, for comparison.

Prints one JSON line: wall times (``capture_s``: until the parent holds the capture), the child's
peak RSS, the parent's RSS before and after, the largest sum of both (polled every 20 ms), the
pickle's size and the time to write and read it.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, BinaryIO

REPO = Path(__file__).resolve().parents[1]
PROGRAM = REPO / "__main__.py"
FRAME = struct.Struct(">BI")
REQUEST, CAPTURE = 1, 2
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * PAGE / 2**20
    except OSError:
        return 0.0


def child(stack_file: Path, out: BinaryIO) -> None:
    from mlops_platform.tools.engine.analyzer import analyze_request
    from mlops_platform.tools.engine.capture import Registration, capture_program
    from mlops_platform.tools.engine.config import load_stack_config

    config = load_stack_config(stack_file)

    def on_resource(reg: Registration) -> None:
        body = analyze_request(reg, reg.provider).SerializeToString()
        out.write(FRAME.pack(REQUEST, len(body)) + body)

    started = time.perf_counter()
    capture = capture_program(PROGRAM, config, on_resource=on_resource)
    ran = time.perf_counter() - started
    started = time.perf_counter()
    body = pickle.dumps(capture, protocol=pickle.HIGHEST_PROTOCOL)
    dumped = time.perf_counter() - started
    out.write(FRAME.pack(CAPTURE, len(body)) + body)
    stats = {
        "child_program_s": round(ran, 2),
        "child_dump_s": round(dumped, 2),
        "child_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out.write(json.dumps(stats).encode() + b"\n")
    out.flush()
    os._exit(0)  # as the CLI ends: the SDK's heap is not freed object by object


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = stream.read(missing)
        if not chunk:
            raise EOFError("the child stopped early")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def main(argv: list[str]) -> int:
    stack_file = Path(argv[0])
    if "--child" in argv:
        # the frames get the pipe; whatever the program prints goes to stderr
        frames = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        child(stack_file, frames)
        return 0
    sys.path.insert(0, str(REPO))
    # what the audit's process holds before the program: the CLI and the engine imported
    import mlops_platform.tools.cli
    import mlops_platform.tools.engine.audit  # noqa: F401

    me = os.getpid()
    peak = {"tree_mb": 0.0}
    watched: list[int] = [me]
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            peak["tree_mb"] = max(peak["tree_mb"], sum(rss_mb(p) for p in list(watched)))
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    parent_before = rss_mb(me)
    started = time.perf_counter()
    poller.start()
    line: dict[str, Any] = {"mode": "in-process" if "--in-process" in argv else "child"}
    if "--in-process" in argv:
        from mlops_platform.tools.engine.analyzer import analyze_request
        from mlops_platform.tools.engine.capture import capture_program
        from mlops_platform.tools.engine.config import load_stack_config

        sent = [0]

        def on_resource(reg: Any) -> None:
            sent[0] += len(analyze_request(reg, reg.provider).SerializeToString())

        capture = capture_program(PROGRAM, load_stack_config(stack_file), on_resource=on_resource)
        line["capture_s"] = round(time.perf_counter() - started, 2)
    else:
        proc = subprocess.Popen(
            [sys.executable, __file__, str(stack_file), "--child"], stdout=subprocess.PIPE, cwd=REPO
        )
        watched.append(proc.pid)
        assert proc.stdout is not None
        requests = request_bytes = 0
        while True:
            kind, length = FRAME.unpack(read_exactly(proc.stdout, FRAME.size))
            body = read_exactly(proc.stdout, length)
            if kind == REQUEST:
                requests += 1
                request_bytes += length
                continue
            loading = time.perf_counter()
            capture = pickle.loads(body)
            line["parent_load_s"] = round(time.perf_counter() - loading, 2)
            line["pickle_mb"] = round(length / 2**20, 1)
            break
        line |= json.loads(proc.stdout.readline())
        proc.wait()
        line["capture_s"] = round(time.perf_counter() - started, 2)
        line["requests"] = requests
        line["request_mb"] = round(request_bytes / 2**20, 1)
        del body
    stop.set()
    poller.join()
    line["resources"] = len(capture.resources)
    line["parent_before_mb"] = round(parent_before, 1)
    line["parent_after_mb"] = round(rss_mb(me), 1)
    line["tree_peak_mb"] = round(peak["tree_mb"], 1)
    print(json.dumps(line), flush=True)
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
