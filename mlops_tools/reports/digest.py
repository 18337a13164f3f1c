"""The JSON report's canonical digest: SHA-256 of its RFC 8785 (JCS) form, without the digest itself.

RFC 8785 by the ``rfc8785`` package (Trail of Bits): the same document hashes the same whatever its
key order or whitespace, so a reader can recompute the digest from the parsed report. The generation
time (``provenance.generated_at``) is left out too: two audits of the same inputs share a digest, the
digest names what was audited; a signature (``mlops report sign``) covers the file's every byte.
"""

from __future__ import annotations

import hashlib
from typing import IO, Any, cast

import rfc8785

DIGEST_KEY = "digest"
CANONICALIZATION = "RFC 8785 (JCS)"


def canonical_digest(document: dict[str, Any]) -> str:
    """Hex SHA-256 of ``document``'s canonical form, leaving out its ``digest`` entry."""
    body = {k: v for k, v in document.items() if k != DIGEST_KEY}
    provenance = body.get("provenance")
    if isinstance(provenance, dict):
        body["provenance"] = {k: v for k, v in provenance.items() if k != "generated_at"}
    sink = _HashSink()
    rfc8785.dump(body, cast(IO[bytes], sink))  # hashed as encoded: the JSON report is streamed too
    return sink.sha256.hexdigest()


class _HashSink:
    """A write-only byte sink that hashes what it is given (``rfc8785.dump`` calls only ``write``)."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return len(data)


def with_digest(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its ``digest``: ``{algorithm, canonicalization, value}``."""
    digest = {
        "algorithm": "sha256",
        "canonicalization": CANONICALIZATION,
        "value": canonical_digest(document),
    }
    return {**document, DIGEST_KEY: digest}


def digest_matches(document: dict[str, Any]) -> bool:
    """Whether ``document`` carries the digest of its own content."""
    digest = document.get(DIGEST_KEY)
    return isinstance(digest, dict) and digest.get("value") == canonical_digest(document)
