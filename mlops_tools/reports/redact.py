"""Defensive redaction of secret values from report text.

The engine replaces secret inputs by markers, but a policy message may still echo a secret value it
read. ``AuditResult.secret_fingerprints`` holds ``"<length>:<sha256>"`` of every secret the engine saw,
so the reports can find and mask those values without the plaintext ever being kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
# Shorter values ("on", "1", "true") cannot be masked without mangling every report, and are not
# credentials; the engine still keeps them out of captured inputs.
MIN_SECRET_CHARS = 4


class Redactor:
    """Replaces every substring whose fingerprint is known by :data:`REDACTED`."""

    def __init__(self, fingerprints: Iterable[str]) -> None:
        by_length: dict[int, set[str]] = {}
        for fingerprint in fingerprints:
            length, _, digest = fingerprint.partition(":")
            if length.isdigit() and int(length) >= MIN_SECRET_CHARS and digest:
                by_length.setdefault(int(length), set()).add(digest)
        # Longest first, so that a secret containing a shorter one is masked whole.
        self._lengths = sorted(by_length.items(), reverse=True)

    def text(self, value: str) -> str:
        for length, digests in self._lengths:
            if len(value) < length:
                continue
            out: list[str] = []
            start = index = 0
            while index + length <= len(value):
                if hashlib.sha256(value[index : index + length].encode()).hexdigest() in digests:
                    out.append(value[start:index] + REDACTED)
                    index += length
                    start = index
                else:
                    index += 1
            value = "".join(out) + value[start:] if out else value
        return value

    def deep(self, value: Any) -> Any:
        """Redact every string in nested dicts, lists and tuples (keys included)."""
        if not self._lengths:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.deep(k): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.deep(v) for v in value)
        return value
