"""Metric thresholds such as ``auc: ">= 0.92"``: parsed in one place for the spec and the policies.

Pulumi-free and import-light: the schema validates thresholds with :func:`parse_threshold`, the
registry rules judge a version's logged metrics with :func:`meets`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

_THRESHOLD_RE = re.compile(
    r"^\s*(?P<op>>=|<=|==|>|<)\s*(?P<value>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$"
)
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}
THRESHOLD_FORMAT = "a comparison such as '>= 0.92' (one of >=, <=, ==, >, < and a number)"


@dataclass(frozen=True, slots=True)
class Threshold:
    """``op value``: a metric passes when ``metric op value`` holds."""

    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def parse_threshold(text: str) -> Threshold:
    """``">= 0.92"`` -> ``Threshold(">=", 0.92)``.

    Raises:
        ValueError: ``text`` is not a comparison with a number (the message says what is expected).
    """
    match = _THRESHOLD_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"must be {THRESHOLD_FORMAT} (got {text!r})")
    return Threshold(match["op"], float(match["value"]))


def meets(value: float, threshold: Threshold) -> bool:
    """Whether ``value`` satisfies ``threshold``."""
    return _OPERATORS[threshold.op](value, threshold.value)
