"""Cosign's key-based image signatures, read from the registry and verified with ``cryptography``.

The format is cosign's "simple signing" scheme (``cosign sign --key``, cosign 2's default; the
containers/image library writes the same for ``skopeo copy --sign-by-sigstore-private-key``):

- the signatures of manifest ``sha256:<hex>`` are the layers of the manifest tagged
  ``sha256-<hex>.sig`` in the image's own repository;
- each layer of media type ``application/vnd.dev.cosign.simplesigning.v1+json`` is a payload blob,
  and its annotation ``dev.cosignproject.cosign/signature`` the base64 signature of those bytes;
- the payload is JSON whose ``critical.type`` is ``cosign container image signature`` and whose
  ``critical.image.docker-manifest-digest`` names the signed digest.

Verified here: the payload blob's own digest, its type, that it names the image's digest, and its
signature with each trusted public key (ECDSA P-256/P-384/P-521, RSA PKCS#1 v1.5 or Ed25519;
SHA-256, and for ECDSA also the curve's own hash, as cosign 2.4+ signs with P-384/P-521 keys).
Not verified: keyless identities (a Fulcio certificate in ``dev.sigstore.cosign/certificate``),
transparency-log inclusion (the Rekor bundle in ``dev.sigstore.cosign/bundle``: key-based
verification offline is ``cosign verify --insecure-ignore-tlog``), and signatures stored only as
OCI 1.1 referrers in the Sigstore bundle format (cosign 3's ``--new-bundle-format``): such an image
reads as unsigned. ``critical.identity.docker-reference`` is recorded, not matched: cosign does not
match it either, and a mirrored image keeps its signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from mlops_platform.tools.supply_chain.oci import OciClient, OciError

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"
MAX_SIGNATURES = 16  # layers read per signature manifest: a signed image has one or a few
MAX_PAYLOAD_BYTES = 256 * 1024  # 256 KiB; a payload with annotations is well under 1 KiB
_CURVE_HASH: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class TrustedKeyError(ValueError):
    """A trusted key in the policy config that is not a usable public key (the message says which)."""


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key the tier's policy config trusts, by the name findings show."""

    name: str
    key: PublicKey

    def verifies(self, signature: bytes, payload: bytes) -> bool:
        key = self.key
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, payload)
                return True
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
                return True
        except InvalidSignature:
            return False
        algorithms: list[hashes.HashAlgorithm] = [hashes.SHA256()]
        own = _CURVE_HASH.get(key.curve.name, hashes.SHA256)
        if own is not hashes.SHA256:
            algorithms.append(own())
        for algorithm in algorithms:
            try:
                key.verify(signature, payload, ec.ECDSA(algorithm))
                return True
            except InvalidSignature:
                continue
        return False


def trusted_keys(entries: Any) -> list[TrustedKey]:
    """The ``trustedKeys`` of the rule's config: ``[{"name": ..., "publicKey": "<PEM>"}]``.

    Raises:
        TrustedKeyError: an entry is not an object of a name and a PEM public key of a supported type.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise TrustedKeyError("trustedKeys: expected a list of {name, publicKey}")
    keys: list[TrustedKey] = []
    for index, entry in enumerate(entries):
        where = f"trustedKeys[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise TrustedKeyError(f"{where}: expected an object with a non-empty name and a publicKey")
        pem = entry.get("publicKey")
        if not isinstance(pem, str):
            raise TrustedKeyError(f"{where} ({entry['name']}): publicKey must be a PEM public key")
        try:
            key = serialization.load_pem_public_key(pem.encode())
        except (ValueError, TypeError):
            raise TrustedKeyError(f"{where} ({entry['name']}): publicKey is not a PEM public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
            raise TrustedKeyError(f"{where} ({entry['name']}): {type(key).__name__} keys are not supported")
        if any(k.name == entry["name"] for k in keys):
            raise TrustedKeyError(f"{where}: the name {entry['name']!r} is given twice")
        keys.append(TrustedKey(entry["name"], key))
    return keys


def signature_tag(digest: str) -> str:
    """The tag cosign stores the signatures of ``digest`` under: ``sha256-<hex>.sig``."""
    algorithm, _, hex_ = digest.partition(":")
    return f"{algorithm}-{hex_}.sig"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The signatures found for one digest and what came of them."""

    found: int
    verified_by: tuple[str, ...]
    problems: tuple[str, ...]


def check_signatures(
    client: OciClient, repository: str, digest: str, keys: list[TrustedKey]
) -> SignatureCheck:
    """Read the signatures of ``repository@digest`` and verify each with ``keys``.

    Raises:
        OciError: the registry failed while reading them (a missing signature tag is no error).
    """
    manifest = client.manifest(repository, signature_tag(digest))
    if manifest is None:
        return SignatureCheck(0, (), ())
    layers = manifest.data.get("layers")
    layers = [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []
    candidates = [layer for layer in layers if layer.get("mediaType") == SIMPLE_SIGNING][:MAX_SIGNATURES]
    verified: list[str] = []
    problems: list[str] = []
    for number, layer in enumerate(candidates, 1):
        problem, by = _check_layer(client, repository, digest, layer, keys)
        if problem:
            problems.append(f"signature {number}: {problem}")
        verified += [name for name in by if name not in verified]
    if not candidates:
        problems.append(f"{signature_tag(digest)} holds no {SIMPLE_SIGNING} layer")
    return SignatureCheck(len(candidates), tuple(verified), tuple(problems))


def _check_layer(
    client: OciClient, repository: str, digest: str, layer: dict[str, Any], keys: list[TrustedKey]
) -> tuple[str | None, list[str]]:
    """``(problem, names of the keys that verify it)`` for one signature layer."""
    annotations = layer.get("annotations")
    encoded = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(encoded, str):
        return f"no {SIGNATURE_ANNOTATION} annotation", []
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "the signature is not base64", []
    try:
        payload = client.blob(repository, str(layer.get("digest", "")), limit=MAX_PAYLOAD_BYTES)
    except OciError as exc:
        return f"its payload cannot be read ({exc})", []
    try:
        critical = json.loads(payload).get("critical", {})
        signed = critical["image"]["docker-manifest-digest"]
        kind = critical["type"]
    except (ValueError, AttributeError, KeyError, TypeError, RecursionError):
        return "the payload is not a cosign simple-signing document", []
    if kind != PAYLOAD_TYPE:
        return f"the payload's type is {str(kind)[:80]!r}, not {PAYLOAD_TYPE!r}", []
    if signed != digest:
        return f"the payload signs another digest ({str(signed)[:80]})", []
    by = [key.name for key in keys if key.verifies(signature, payload)]
    if not by:
        return "it does not verify with any trusted key", []
    return None, by
