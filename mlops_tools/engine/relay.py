"""The Analyze relay: a small process that sends the audit's serialized requests to every pack.

Why a process: each blocking gRPC call costs its caller ~0.4 ms of Python (GIL held), three packs
per resource. Made from threads of the capturing process, that is 15-20% more work on the critical
path (the program, single-threaded like the language host) plus GIL hand-offs stalling it. The
capturing process instead writes each request once, already serialized, to this process's stdin
and reads the answers back in bulk; the gRPC calls themselves (the real Analyzer protocol, one
blocking call per resource per pack process) happen here, on the other core.

Run as a script (``python relay.py``, importing only grpc and the standard library). Frames are
``>BI`` (kind, length) then the body, on stdin:

- ``ADDRESSES`` (once, when every pack is configured): JSON ``[[address, ...] per pack]``;
- ``REQUEST``: one serialized ``AnalyzeRequest``, numbered 0, 1, 2... in order of arrival;
- end of input: no more requests; the relay exits once every answer is written.

On stdout, one frame per request per pack: ``>IBBI`` (request number, pack index, status, length)
then the body: the serialized ``AnalyzeResponse`` (status 0) or the call's error details (status:
the gRPC status code number).
"""

from __future__ import annotations

import contextlib
import json
import queue
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

ADDRESSES = 1
REQUEST = 2
IN_HEADER = struct.Struct(">BI")
OUT_HEADER = struct.Struct(">IBBI")
OK = 0
UNAVAILABLE = 14  # grpc.StatusCode.UNAVAILABLE: the channel went away under a call
CALL_TIMEOUT_S = 600.0
_GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
]
METHOD = "/pulumirpc.Analyzer/Analyze"


def read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """``size`` bytes from ``stream``, or None at end of input."""
    chunks, missing = [], size
    while missing:
        chunk = stream.read(missing)
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def frame(kind: int, body: bytes) -> bytes:
    return IN_HEADER.pack(kind, len(body)) + body


def parse_answers(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """The relay's output as ``(request number, pack index, status, body)``."""
    out, offset, size = [], 0, OUT_HEADER.size
    while offset + size <= len(data):
        seq, pack, status, length = OUT_HEADER.unpack_from(data, offset)
        offset += size
        out.append((seq, pack, status, data[offset : offset + length]))
        offset += length
    if offset != len(data):
        raise ValueError(f"truncated relay output ({len(data) - offset} stray bytes)")
    return out


class Writer:
    """Answers written in batches: whatever is ready when the writer wakes goes out in one write."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        self._queue.put(data)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch, done = [], item is None
            if item is not None:
                batch.append(item)
            while not done:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    done = True
                else:
                    batch.append(more)
            if batch:
                self._stream.write(b"".join(batch))
                self._stream.flush()
            if done:
                return

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


def _send_loop(pack: int, call: Callable[..., Any], work: queue.SimpleQueue, writer: Writer) -> None:
    import grpc

    while True:
        item = work.get()
        if item is None:
            return
        seq, payload = item
        try:
            body, status = call(payload, timeout=CALL_TIMEOUT_S), OK
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            status = code.value[0] if code is not None else UNAVAILABLE
            details = exc.details() if hasattr(exc, "details") else str(exc)
            body = (details or str(exc)).encode("utf-8", "replace")
        except ValueError as exc:  # the channel was closed under the call
            status, body = UNAVAILABLE, str(exc).encode("utf-8", "replace")
        writer.put(OUT_HEADER.pack(seq, pack, status, len(body)) + body)


def main(stdin: BinaryIO, stdout: BinaryIO) -> int:
    import grpc

    writer = Writer(stdout)
    pending: list[tuple[int, bytes]] = []
    queues: list[queue.SimpleQueue] = []
    senders: list[threading.Thread] = []
    channels: list[Any] = []
    seq = 0
    while True:
        header = read_exactly(stdin, IN_HEADER.size)
        if header is None:
            break
        kind, length = IN_HEADER.unpack(header)
        body = read_exactly(stdin, length) if length else b""
        if body is None:
            break
        if kind == ADDRESSES:
            for pack, addresses in enumerate(json.loads(body)):
                work: queue.SimpleQueue = queue.SimpleQueue()
                queues.append(work)
                for address in addresses:
                    channel = grpc.insecure_channel(address, options=_GRPC_OPTIONS)
                    channels.append(channel)
                    call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
                    thread = threading.Thread(target=_send_loop, args=(pack, call, work, writer), daemon=True)
                    thread.start()
                    senders.append(thread)
                for item in pending:
                    work.put(item)
            pending.clear()
        elif kind == REQUEST:
            item = (seq, body)
            seq += 1
            if queues:
                for work in queues:
                    work.put(item)
            else:
                pending.append(item)
    for work in queues:
        for _ in senders:
            work.put(None)
    for thread in senders:
        thread.join()
    writer.close()
    for channel in channels:
        channel.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.stdin.buffer, sys.stdout.buffer))


# -- the capturing process's side ---------------------------------------------------------------


class Relay:
    """A running relay process: ``request()`` while the program runs, ``answers()`` at the end.

    Thread-safe: requests come from the SDK's worker threads, the addresses from the pack starter.
    """

    def __init__(self, *, niceness: int = 0) -> None:
        import os
        import subprocess
        import tempfile

        # Answers go to a file read once at the end: a thread reading them from a pipe as they come
        # would wake in the capturing process thousands of times and slow the program (measured: the
        # SDK's wait for outstanding outputs took 4x as many rounds).
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        from mlops_platform.tools.engine import children

        self._proc = children.spawn(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=self._stdout,
            stderr=self._stderr,
        )
        if niceness:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self._proc.pid, niceness)
        self._lock = threading.Lock()
        self._broken: OSError | None = None
        self.sent = 0

    def _write(self, data: bytes) -> None:
        assert self._proc.stdin is not None
        with self._lock:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()

    def addresses(self, packs: list[list[str]]) -> None:
        """Every pack is configured: start sending (requests written before are held until now)."""
        self._write(frame(ADDRESSES, json.dumps(packs).encode()))

    def request(self, payload: bytes) -> int:
        """Send one serialized ``AnalyzeRequest`` to every pack; its number in the answers."""
        assert self._proc.stdin is not None
        with self._lock:
            number = self.sent
            self.sent += 1
            if self._broken is None:
                try:
                    self._proc.stdin.write(frame(REQUEST, payload))
                    self._proc.stdin.flush()
                except OSError as exc:  # the relay died: reported by answers(), not inside the program
                    self._broken = exc
        return number

    def answers(self, timeout_s: float = CALL_TIMEOUT_S) -> list[tuple[int, int, int, bytes]]:
        """Close the input, wait for every answer, return them as ``parse_answers`` does.

        Raises:
            RuntimeError: the relay failed (its stderr in the message).
        """
        assert self._proc.stdin is not None
        with self._lock, contextlib.suppress(OSError):
            self._proc.stdin.close()
        returncode = self._proc.wait(timeout_s)
        if returncode != 0 or self._broken is not None:
            self._stderr.seek(0)
            raise RuntimeError(f"analyze relay exited {returncode}: {self._stderr.read().decode()[-4000:]}")
        self._stdout.seek(0)
        return parse_answers(self._stdout.read())

    def close(self) -> None:
        """Stop the relay if it still runs (on failure paths)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        from mlops_platform.tools.engine import children

        children.forget(self._proc)
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._stdout.close()
        self._stderr.close()
