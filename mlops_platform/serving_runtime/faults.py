"""Deliberate server errors for tests (``MLOPS_INJECT_ERROR_RATIO``), off unless configured."""

from __future__ import annotations

import math
import threading


class ErrorInjector:
    """Fails an exact, evenly spread share of calls: call ``n`` fails when ``floor(n*r)`` steps up.

    Deterministic, so a test knows the ratio it gets (0.25: calls 4, 8, 12... fail); thread-safe,
    because invocations run in a thread pool.
    """

    def __init__(self, ratio: float) -> None:
        if not 0 <= ratio <= 1:
            raise ValueError(f"error ratio must be between 0 and 1 (got {ratio})")
        self.ratio = ratio
        self._calls = 0
        self._lock = threading.Lock()

    def should_fail(self) -> bool:
        if self.ratio == 0:
            return False
        with self._lock:
            self._calls += 1
            n = self._calls
        return math.floor(n * self.ratio) > math.floor((n - 1) * self.ratio)
