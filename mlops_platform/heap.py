"""The cyclic garbage collector paused around work that builds many long-lived objects.

One helper for the engine (a program under the SDK) and the spec loader (a stack file's data and
its models): both allocate millions of objects that live on and few garbage cycles, and with the
default thresholds each full collection walks the whole growing heap for nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off inside, restored after (nesting is fine).

    Measured: a program under the SDK, 300 models, 18.0-19.5 s with collections and 13.4 s without
    (peak memory 439 MB against 465 MB); validating a 20,000-model stack file, the collections took
    as long as the validation itself (model_validate 1.6-2.1 s with them, 0.6 s without). Reference
    counting still frees everything acyclic; the cycles left are collected once the collector is
    back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
