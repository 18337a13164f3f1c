"""The offline audit ``mlops up`` runs before the real engine: blocking findings stop it before any change.

The real engine analyzes each resource as it registers it and applies the others meanwhile, and its
own policy gate knows nothing of waivers or of the audit-only checks (waiver problems). The offline
audit (seconds, no cluster, no state) runs the same program and packs with the same tier config,
applies the waivers, and says what would block, located in the spec, before anything is touched.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from mlops_platform.tools.project import Project


def offline_gate(
    env_file: Path,
    waivers_file: Path,
    err: Console,
    project: Project | None = None,
    *,
    verify_images: bool = True,
) -> bool:
    """Audit ``env_file`` offline with waivers applied; report blocking findings; True when none.

    With ``verify_images`` (``mlops up``'s default) the image registries are asked too: a pinned
    digest that does not exist, or an image the tier requires signed that no trusted key signed,
    blocks like any mandatory finding (``catalogue.REGISTRY_RULES``).

    Raises:
        PolicyConfigError, PackError, WaiverError, SupplyChainConfigError: the audit could not run
            (the caller reports it).
    """
    from mlops_platform.tools.engine.audit import audit_environment
    from mlops_platform.tools.spec_locations import locate_findings
    from mlops_platform.tools.supply_chain.verify import with_supply_chain
    from mlops_platform.tools.waivers import apply_waivers, load_waivers

    waivers = load_waivers(waivers_file) if waivers_file.exists() else []
    audited = with_supply_chain(audit_environment(env_file, project=project), consult=verify_images)
    result = apply_waivers(locate_findings(audited, env_file, project=project), waivers, date.today())
    blocking = result.blocking
    for finding in blocking:
        where = f"{finding.spec}: " if finding.spec is not None else ""
        err.print(f"blocking: {where}{finding.policy}: {finding.message}", markup=False, highlight=False)
        if finding.remediation:
            err.print(f"  fix: {finding.remediation}", markup=False, highlight=False)
    verdict = f"{len(blocking)} blocking findings" if blocking else "no blocking finding"
    chain = result.supply_chain
    images = (
        f"{len(chain.images)} image references asked of their registries"
        if chain is not None and chain.consulted
        else "image registries not consulted: supply chain not verified"
    )
    err.print(
        f"offline audit of {result.environment}: {len(result.resources)} resources, {images}, {verdict}",
        markup=False,
    )
    return not blocking
