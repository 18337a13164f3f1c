"""The one place the real-engine runs use the Pulumi SDK's private API: the engine events' JSON.

The engine (3.274.1) reports, per resource and policy pack, ``policyAnalyzeSummaryEvent`` (the
policies that passed and failed there) and, once per pack, ``policyAnalyzeStackSummaryEvent``: the
engine's own record of which policies judged what, which the audit counts as checks
(``events.EngineRecord``). The Python Automation API (pulumi 3.272.0) parses each event of the
CLI's stream with ``EngineEvent.from_json`` and drops the kinds it does not model, these two among
them, before ``on_event`` sees it. No public API hands over the JSON: ``on_event`` gets the parsed
event only; the stream's address (``--event-log``) is the SDK's own, which ``preview`` needs for its
summary; only ``preview`` takes ``json=True``, and ``up``, ``refresh`` and ``destroy`` do not.

So :func:`raw_events` rebinds ``pulumi.automation._stack.EngineEvent`` (the name the SDK's event
servicer and log watcher look up when an event arrives) to a subclass that keeps each event's JSON
as ``.raw``, for the duration of one operation. A private name of one SDK version: it runs only on
the version it was written for (:data:`WRITTEN_FOR`, pyproject's pin) and refuses any other with
:class:`SdkVersionError` before the engine starts.

Not a fast path (there is nothing to measure against: without it the audit has no checks); it is the
only way to the data. Waits for: the Python Automation API modelling the policy summary events, which
the engine has emitted since pulumi/pulumi#20443 and #20493 (no SDK issue asks for it yet: searched).
When ``pulumi.automation.events`` models them, read them from the parsed events and delete this module.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata

from mlops_platform.tools.engine_pulumi.workspace import EngineUnavailable

WRITTEN_FOR = "3.272.0"
"""The pulumi (Python SDK) version whose ``automation._stack`` this adapts (pyproject pins it)."""

_PATCH_LOCK = threading.Lock()


class SdkVersionError(EngineUnavailable):
    """Another pulumi SDK is installed than the one this adapter was written for."""


def check_sdk_version() -> None:
    """Refuse any pulumi SDK but :data:`WRITTEN_FOR`: its private event plumbing may differ.

    Raises:
        SdkVersionError: naming the installed and the expected version and what to do.
    """
    installed = metadata.version("pulumi")
    if installed != WRITTEN_FOR:
        raise SdkVersionError(
            f"the pulumi Python SDK {installed} is installed; the real-engine runs read the engine's policy "
            f"summaries through pulumi {WRITTEN_FOR}'s private automation._stack.EngineEvent "
            "(mlops_platform.tools.engine_pulumi.sdk_events) and run on that version only. "
            f"Install pulumi=={WRITTEN_FOR} (mlops-platform pins it)."
        )


@contextmanager
def raw_events() -> Iterator[None]:
    """While open, every ``EngineEvent`` the SDK hands to ``on_event`` carries ``.raw``, its JSON.

    Raises:
        SdkVersionError: another pulumi SDK than :data:`WRITTEN_FOR` (before anything runs).
    """
    check_sdk_version()
    from pulumi.automation import _stack
    from pulumi.automation.events import EngineEvent

    class _RawEngineEvent(EngineEvent):
        @classmethod
        def from_json(cls, data: dict) -> EngineEvent:  # type: ignore[override]
            event = EngineEvent.from_json(data)
            event.raw = data  # type: ignore[attr-defined]
            return event

    with _PATCH_LOCK:
        original = _stack.EngineEvent
        _stack.EngineEvent = _RawEngineEvent  # type: ignore[misc]
        try:
            yield
        finally:
            _stack.EngineEvent = original  # type: ignore[misc]
