"""What an audit report can and cannot claim: the scope and limitations every format states.

The audit reads the configuration a program declares (design time). It never observes a running
system, and it cannot evidence organisational or manual controls; a control it covers only in part
says so (``partial``). The supply chain is recorded as what was verified, never assumed.
"""

from __future__ import annotations

from typing import Any

SIGN_OFF_FIELDS = ("Reviewer", "Date", "Decision (accept / accept with conditions / reject)", "Signature")


def scope_statement(*, supply_chain: str = "not verified") -> dict[str, Any]:
    """The report's scope: what was verified, what was not, and the supply-chain status.

    Args:
        supply_chain: ``"not verified"`` when no image registry was consulted (offline), else what
            the verification established.
    """
    return {
        "basis": "design-time configuration: the resources the Pulumi program declares for each "
        "environment, judged by the policy packs as `pulumi preview --policy-pack` would",
        "verified": [
            "each rule on every declared resource it applies to (counts and observed values per rule)",
            "waivers against the waiver file, as of the date named in the provenance",
            "the spec's declared models: risk tier, data classification, model card, approval, version",
        ],
        "not_verified": [
            "the running system: no cluster, container runtime, network or registry state is observed",
            "manual and organisational controls (processes, reviews, training, incident response)",
            "controls marked partly evidenced: the report names what each lacks",
            "model quality, data governance and documentation content beyond the declared links and tags",
            f"image supply chain, digests resolving in their registry and image signatures: {supply_chain}",
        ],
        "supply_chain": supply_chain,
    }
