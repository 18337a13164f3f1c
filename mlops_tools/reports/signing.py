"""Sign and verify a JSON audit report in a DSSE envelope (securesystemslib's ``dsse.Envelope``).

The envelope's payload is the report file's exact bytes, typed :data:`PAYLOAD_TYPE`; the signature is
over DSSE's pre-authentication encoding, made with a PEM private key (Ed25519, ECDSA P-256/P-384 or
RSA, as ``securesystemslib.signer.CryptoSigner`` supports). Verification checks the signature with the
public key, that the payload is the report given byte for byte, and that the report's embedded
canonical digest matches its content: an edited report fails all three ways.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_platform.tools.reports.digest import digest_matches

PAYLOAD_TYPE = "application/vnd.mlops-platform.audit-report+json"


class SigningError(Exception):
    """Bad input to sign or verify: an unreadable key or report, or a report that is not ours."""


@dataclass(frozen=True, slots=True)
class Verified:
    """A report whose envelope verified: the key that signed it and the report's digest."""

    keyid: str
    digest: str


def _report(path: Path) -> tuple[bytes, dict[str, Any]]:
    try:
        data = path.read_bytes()
        document = json.loads(data)
    except OSError as exc:
        raise SigningError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise SigningError(f"{path}: not a JSON report: {exc}") from None
    if not isinstance(document, dict) or "digest" not in document:
        raise SigningError(f"{path}: not an mlops JSON audit report (no digest)")
    return data, document


def _pem(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def sign_report(report: Path, private_key: Path) -> str:
    """The DSSE envelope (JSON text) signing ``report`` with the PEM ``private_key``."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    data, document = _report(report)
    if not digest_matches(document):
        raise SigningError(f"{report}: its digest does not match its content: it was edited; not signing it")
    try:
        key = load_pem_private_key(_pem(private_key, "private key"), password=None)
        signer = CryptoSigner(key)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{private_key}: not a usable PEM private key: {exc}") from None
    envelope = Envelope(payload=data, payload_type=PAYLOAD_TYPE, signatures={})
    envelope.sign(signer)
    return json.dumps(envelope.to_dict(), indent=2) + "\n"


def verify_report(report: Path, envelope_file: Path, public_key: Path) -> Verified:
    """Verify ``report`` against its DSSE envelope and the PEM ``public_key``.

    Raises:
        SigningError: bad input (unreadable files, a malformed envelope or key).
        VerificationFailed: the signature, the payload or the digest does not hold.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey

    data, document = _report(report)
    try:
        envelope = Envelope.from_dict(json.loads(_pem(envelope_file, "signature envelope")))
    except (ValueError, KeyError, TypeError) as exc:
        raise SigningError(f"{envelope_file}: not a DSSE envelope: {exc}") from None
    try:
        key = SSlibKey.from_crypto(load_pem_public_key(_pem(public_key, "public key")))  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{public_key}: not a usable PEM public key: {exc}") from None
    if envelope.payload_type != PAYLOAD_TYPE:
        raise VerificationFailed(
            f"{envelope_file}: payload type {envelope.payload_type!r}, not {PAYLOAD_TYPE}"
        )
    try:
        envelope.verify([key], 1)
    except VerificationError as exc:
        raise VerificationFailed(
            f"{envelope_file}: the signature does not verify with {public_key}: {exc}"
        ) from None
    if envelope.payload != data:
        raise VerificationFailed(f"{report}: differs from the report that was signed: it was edited")
    if not digest_matches(document):
        raise VerificationFailed(f"{report}: its digest does not match its content")
    return Verified(keyid=key.keyid, digest=str(document["digest"]["value"]))


class VerificationFailed(Exception):
    """The report is not the one the key signed (or was edited)."""
