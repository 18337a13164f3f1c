"""Supply-chain rules: what the image registries answered about each image a resource runs.

A policy pack may not reach the network, so these rules do not run in a pack: the audit asks the
registries (``mlops_platform.tools.supply_chain``) and hands each rule the answers, one
:class:`ImageAnswer` per image reference. The rules stay pure functions of the resource, their
config and those answers; they return ``None`` where they do not apply (as a pack answers
not-applicable) and the violation messages otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlops_platform.policies.rules._images import parse_image
from mlops_platform.policies.rules._model import Config, Res
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


Answers = Mapping[str, ImageAnswer]


def pins_digest(ref: str) -> bool:
    """True when ``ref`` names its image by digest (``...@sha256:...``)."""
    return parse_image(ref).digest is not None


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


def signature_required(res: Res, cfg: Config) -> bool:
    """Where ``image-signature-verified`` applies: the tier requires signatures and ``res`` runs images."""
    return bool(cfg.get("requireSignature")) and bool(declared_images(res))


def trusted_key_names(cfg: Config) -> list[str]:
    """The names of the trusted keys in the rule's config (``trustedKeys[].name``)."""
    keys = cfg.get("trustedKeys")
    return [str(k.get("name")) for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []


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
