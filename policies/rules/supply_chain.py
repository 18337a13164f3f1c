"""Supply-chain rules: what the image registries answered about each image a resource runs.

A policy pack may not reach the network, so these rules do not run in a pack: the audit asks the
registries (``mlops_platform.tools.supply_chain``) and hands each rule the answers, one
:class:`ImageAnswer` per image reference (:class:`~mlops_platform.policies.declaration.RegistryRule`).
The rules stay pure functions of the resource, their config and those answers; they return ``None``
where they do not apply (as a pack answers not-applicable) and the violation messages otherwise.
Without the answers (the registries not consulted) the audit records each resource a rule applies
to as not verified: never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mlops_platform.policies import evidence as ev
from mlops_platform.policies.admission import NotInCel
from mlops_platform.policies.controls import partial
from mlops_platform.policies.declaration import BOTH, Pack, RegistryRule, Severity, per_tier
from mlops_platform.policies.evidence import EvidenceSelector
from mlops_platform.policies.rules import _scopes as scope
from mlops_platform.policies.rules._images import parse_image
from mlops_platform.policies.rules._model import AppliesTo, Config, Res
from mlops_platform.policies.rules.security import declared_images


@dataclass(frozen=True, slots=True)
class ImageAnswer:
    """What an image's registry answered for one reference."""

    reference: str
    digest: str | None = None
    """The manifest digest the reference resolved to (the pinned one, or the tag's today)."""
    exists: bool = False
    """The registry serves the manifest, and its bytes hash to ``digest``."""
    error: str | None = None
    """Why the registry gave no answer (unreachable, refused, malformed); None when it answered."""
    signatures: int = 0
    """Signatures found for ``digest`` (cosign's ``sha256-<hex>.sig`` tag)."""
    verified_by: tuple[str, ...] = ()
    """Names of the trusted keys a signature over ``digest`` verified with."""
    signature_problems: tuple[str, ...] = ()
    """Why each signature found did not count (bad payload, another digest, no trusted key)."""


Answers = Mapping[str, Any]
"""Image reference -> :class:`ImageAnswer` (``Any``: the declaration's check type is generic)."""


def pins_digest(ref: str) -> bool:
    """True when ``ref`` names its image by digest (``...@sha256:...``)."""
    return parse_image(ref).digest is not None


def _pins_a_digest(res: Res, cfg: Config) -> bool:
    return any(pins_digest(ref) for _, ref in declared_images(res))


def signature_required(res: Res, cfg: Config) -> bool:
    """Where ``image-signature-verified`` applies: the tier requires signatures and ``res`` runs images."""
    return bool(cfg.get("requireSignature")) and bool(declared_images(res))


def trusted_key_names(cfg: Config) -> list[str]:
    """The names of the trusted keys in the rule's config (``trustedKeys[].name``)."""
    keys = cfg.get("trustedKeys")
    return [str(k.get("name")) for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []


DIGEST_PINNED_IMAGES = AppliesTo(
    summary="Kubernetes pod-bearing kinds, Docker containers and remote images that name an image by digest",
    types=scope.IMAGES.types,
    when=_pins_a_digest,
)
SIGNED_IMAGES = AppliesTo(
    summary="Kubernetes pod-bearing kinds, Docker containers and remote images, where the tier's config "
    "sets `requireSignature` (prod)",
    types=scope.IMAGES.types,
    when=signature_required,
)
TRUSTED_KEYS = MappingProxyType(
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name", "publicKey"],
            "properties": {"name": {"type": "string"}, "publicKey": {"type": "string"}},
            "additionalProperties": False,
        },
        "default": [],
    }
)


def image_digest_resolves(res: Res, cfg: Config, answers: Answers) -> list[str] | None:
    """Every image pinned by digest must resolve, by that digest, in its registry."""
    pinned = [(where, ref) for where, ref in declared_images(res) if pins_digest(ref)]
    if not pinned:
        return None
    out = []
    for where, ref in pinned:
        answer = answers.get(ref)
        digest = parse_image(ref).digest
        if answer is None or answer.error is not None:
            reason = answer.error if answer is not None else "the registry was not asked"
            out.append(f'{where} image "{ref}": its digest could not be verified: {reason}')
        elif not answer.exists:
            out.append(f'{where} image "{ref}": digest {digest} does not exist in its registry')
    return out


IMAGE_DIGEST_RESOLVES = RegistryRule(
    name="image-digest-resolves",
    pack=Pack.SUPPLY_CHAIN,
    description="Every image pinned by digest must exist, by that digest, in its registry.",
    check=image_digest_resolves,
    admission=NotInCel(
        "asks the image's registry over the network (OCI distribution API); CEL sees only the object"
    ),
    applies_to=DIGEST_PINNED_IMAGES,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "nist-800-53:SI-7",
            rationale="each pinned digest names a manifest its registry serves, whose bytes hash to it",
            missing="integrity verification at run time, and of who made the image (signatures: "
            "image-signature-verified), is not shown by an existing digest",
        ),
        partial(
            "nist-800-53:CM-8",
            rationale="the image digests the inventory names exist",
            missing="an inventory kept up to date and reviewed: not checked",
        ),
    ),
    evidence=EvidenceSelector(reads=ev.IMAGES),
    remediation="Pin the digest the registry serves for the image (`skopeo inspect --format '{{.Digest}}' "
    "docker://REF` or `crane digest REF`), or push the image there first. A registry that did not "
    "answer: make it reachable with credentials in `$REGISTRY_AUTH_FILE` or the Docker config, or "
    "deploy unverified with `mlops up --no-verify-images`.",
)


def image_signature_verified(res: Res, cfg: Config, answers: Answers) -> list[str] | None:
    """Every image must carry a signature over its digest that verifies with a trusted key."""
    if not signature_required(res, cfg):
        return None
    keys = trusted_key_names(cfg)
    out = []
    for where, ref in declared_images(res):
        answer = answers.get(ref)
        if not keys:
            out.append(
                f'{where} image "{ref}": no trusted key is configured '
                "(image-signature-verified.trustedKeys in the tier's policy config)"
            )
        elif answer is None or answer.error is not None:
            reason = answer.error if answer is not None else "the registry was not asked"
            out.append(f'{where} image "{ref}": its signature could not be verified: {reason}')
        elif not answer.exists:
            out.append(f'{where} image "{ref}": the image does not exist in its registry')
        elif not answer.verified_by:
            if answer.signatures == 0:
                detail = f"no signature over {answer.digest}"
            else:
                problems = "; ".join(answer.signature_problems[:3])
                detail = f"{answer.signatures} signature(s) over {answer.digest}, none valid: {problems}"
            out.append(f'{where} image "{ref}" is not signed by a trusted key ({", ".join(keys)}): {detail}')
    return out


IMAGE_SIGNATURE_VERIFIED = RegistryRule(
    name="image-signature-verified",
    pack=Pack.SUPPLY_CHAIN,
    description="Where the tier requires it, every image must carry a signature over its digest from a key "
    "the tier's policy config trusts.",
    check=image_signature_verified,
    admission=NotInCel(
        "fetches and verifies the signature from the image's registry; CEL sees only the object, and "
        "the API server checks no signatures"
    ),
    applies_to=SIGNED_IMAGES,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "nist-800-53:CM-14",
            rationale="before `mlops up` changes anything, each image's digest must carry a cosign signature "
            "that verifies with a key the tier's policy config names",
            missing="prevention where images are installed (a cluster admission check) for deployments that "
            "bypass `mlops up`; certificate-based (keyless) identities and transparency-log inclusion: not "
            "verified",
        ),
        partial(
            "nist-800-53:SI-7(15)",
            rationale="each image is authenticated by a signature over its digest before deployment",
            missing="authentication where the image is installed (the cluster's runtime or admission): not "
            "checked",
        ),
    ),
    evidence=EvidenceSelector(reads=ev.IMAGES),
    schema={"requireSignature": {"type": "boolean", "default": False}, "trustedKeys": TRUSTED_KEYS},
    knobs=per_tier(requireSignature=(False, False, True)),
    remediation="Sign the image's digest with a key the tier trusts (`cosign sign --key cosign.key "
    "REGISTRY/REPO@sha256:...`) and add its public key to `image-signature-verified.trustedKeys` "
    "(`name`, `publicKey` PEM) in the tier's policy config.",
)
