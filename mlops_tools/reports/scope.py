"""What an audit report can and cannot claim: the scope and limitations every format states.

The audit reads the configuration a program declares (design time). It never observes a running
system, and it cannot evidence organisational or manual controls; a control it covers only in part
says so (``partial``). The supply chain is recorded as what was verified, never assumed.
"""

from __future__ import annotations

from typing import Any

SIGN_OFF_FIELDS = ("Reviewer", "Date", "Decision (accept / accept with conditions / reject)", "Signature")


NOT_VERIFIED = "not verified"


def scope_statement(*, supply_chain: str = NOT_VERIFIED) -> dict[str, Any]:
    """The report's scope: what was verified, what was not, and the supply-chain status.

    Args:
        supply_chain: ``"not verified"`` when no image registry was consulted (offline), else what
            the verification established (:func:`supply_chain_status`).
    """
    consulted = supply_chain != NOT_VERIFIED
    verified = [
        "each rule on every declared resource it applies to (counts and observed values per rule)",
        "waivers against the waiver file, as of the date named in the provenance",
        "the spec's declared models: risk tier, data classification, model card, approval, version",
    ]
    not_verified = [
        "the running system: no cluster, container runtime or network state is observed",
        "manual and organisational controls (processes, reviews, training, incident response)",
        "controls marked partly evidenced: the report names what each lacks",
        "model quality, data governance and documentation content beyond the declared links and tags",
    ]
    if consulted:
        verified.append(f"image supply chain, asked of each image's registry: {supply_chain}")
        not_verified.append(
            "image signatures beyond key-based cosign signatures: keyless (certificate) identities and "
            "transparency-log inclusion"
        )
    else:
        not_verified.append(
            f"image supply chain, digests resolving in their registry and image signatures: {supply_chain}"
        )
    return {"basis": BASIS, "verified": verified, "not_verified": not_verified, "supply_chain": supply_chain}


BASIS = (
    "design-time configuration: the resources the Pulumi program declares for each environment, judged "
    "by the policy packs as `pulumi preview --policy-pack` would"
)


def supply_chain_status(views: list[dict[str, Any]]) -> str:
    """``"not verified"`` when no environment's audit consulted the image registries, else per
    environment what they answered (environments not consulted say "not verified")."""
    if not any(view["supply_chain"]["consulted"] for view in views):
        return NOT_VERIFIED
    parts = []
    for view in views:
        chain = view["supply_chain"]
        if not chain["consulted"]:
            parts.append(f"{view['environment']}: {NOT_VERIFIED}")
            continue
        images = chain["images"]
        found = sum(1 for i in images if i["exists"])
        unanswered = sum(1 for i in images if i["error"])
        checked = [i for i in images if i["signature_checked"]]
        signed = sum(1 for i in checked if i["verified_by"])
        text = (
            f"{view['environment']}: {len(images)} image reference(s) asked, {found} found, "
            f"{len(images) - found - unanswered} missing, {unanswered} unanswered"
        )
        if checked:
            text += f"; {signed} of {len(checked)} signed by a trusted key (cosign, key-based)"
        parts.append(text)
    return "; ".join(parts)
