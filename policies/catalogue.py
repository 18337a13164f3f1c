"""The rule catalogue: every rule as declared beside its check, the packs, and what is generated from them.

Rules are declared once, next to their checks in :mod:`mlops_platform.policies.rules`
(:mod:`mlops_platform.policies.declaration`); this module collects them, in the order below, for
:mod:`mlops_platform.policies.packs` (which wires them into ``pulumi_policy``), for
``policies/config/tiers/<tier>.json`` (the ``--policy-pack-config`` files, one per tier), for
``policies/README.md`` and for the audit's evidence. ``python -m mlops_platform.policies.catalogue``
regenerates the files; ``--check`` fails when they are stale.

Tag format (read by the audit's waiver engine and the reports, from ``GetAnalyzerInfo``):
``control:<framework>:<control-id>`` per mapped control, ``coverage:<full|partial>:<framework>:<control-id>``
for how much of it the rule evidences, ``target:<kubernetes|docker>`` per
target the rule covers, ``area:<security|reliability|governance>``, ``scope:<resource|stack>``, and
``non-waivable`` on rules no waiver may suppress.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from mlops_platform.policies.admission import DIFFERENCES, INSTALL_BY_DEFAULT, Cel
from mlops_platform.policies.controls import FRAMEWORKS, Coverage, control_title, natural_key
from mlops_platform.policies.declaration import Pack, Rule, RuleDeclarationError, declared_in
from mlops_platform.policies.evidence import EvidenceSelector
from mlops_platform.policies.rules import governance, registry, reliability, security, supply_chain
from mlops_platform.validation import Tier

ENVIRONMENTS: Final = tuple(Tier)
"""The tiers, each with its own config file (``policies/config/tiers/<tier>.json``)."""
PACKS: Final[dict[str, str]] = {
    Pack.SECURITY: "Container hardening, image provenance, secrets and network exposure: for any program.",
    Pack.RELIABILITY: "Resources, health checks, restarts, disruption budgets, autoscaling, storage "
    "safety: for any program.",
    Pack.GOVERNANCE: "The platform's contract, keyed on its labels: ownership, model metadata and "
    "provenance, monitoring, drift, classification, tier replicas, backups, object-store settings.",
}
POLICIES_DIR = Path(__file__).resolve().parent
README = POLICIES_DIR / "README.md"
CONFIG_DIR = POLICIES_DIR / "config"

RULE_MODULES: Final = (security, reliability, governance, registry)
"""The modules that declare rules, in catalogue order (the README's and the tier files' order)."""


def collect(modules: tuple[Any, ...]) -> tuple[Rule, ...]:
    """Every rule ``modules`` declare, in order; a name declared twice is refused."""
    rules: dict[str, Rule] = {}
    for module in modules:
        for rule in declared_in(module):
            if rule.name in rules:
                raise RuleDeclarationError(
                    f"{rule.where}: rule {rule.name!r} is already declared at {rules[rule.name].where}"
                )
            rules[rule.name] = rule
    return tuple(rules.values())


RULES: Final = collect(RULE_MODULES)
RULES_BY_NAME: Final = {r.name: r for r in RULES}

# -- checks the audit runs itself ---------------------------------------------------------------------
# A policy pack may not reach the network: these rules judge what the image registries answered,
# asked by the audit (``mlops_platform.tools.supply_chain``) when it consults them (``mlops up`` by
# default, ``mlops audit --verify-images``). Declared like every rule: levels, knobs and controls land
# in the tier files, the README and the reports from the declaration.

SUPPLY_CHAIN: Final = Pack.SUPPLY_CHAIN
SUPPLY_CHAIN_BLURB: Final = (
    "Checks the audit runs itself, because they ask each image's registry (OCI distribution API): no "
    "policy pack may reach the network. They run when the audit consults the registries (`mlops up` "
    "by default, `mlops audit --verify-images`); otherwise every report says *not verified*, never "
    "*pass*. Signatures are cosign's key-based signatures (the simple-signing payload under the "
    "`sha256-<digest>.sig` tag), verified with the `cryptography` library against the keys the tier's "
    "config trusts; keyless (Fulcio certificate) identities and transparency-log (Rekor) inclusion "
    "are not verified."
)
REGISTRY_RULE_MODULES: Final = (supply_chain,)
"""The modules that declare the audit's own rules (``RegistryRule``s)."""
REGISTRY_RULES: Final = collect(REGISTRY_RULE_MODULES)
REGISTRY_RULES_BY_NAME: Final = {r.name: r for r in REGISTRY_RULES}
ALL_RULES: Final = (*RULES, *REGISTRY_RULES)
"""Every declared rule: the packs' and the audit's own (``REGISTRY_RULES``)."""


def rules_for(pack: str) -> list[Rule]:
    return [r for r in RULES if r.pack == pack]


def evidence_of(policy: str) -> EvidenceSelector | None:
    """What the bundled rule named ``policy`` reads (``None`` for a policy of no bundled pack)."""
    rule = RULES_BY_NAME.get(policy) or REGISTRY_RULES_BY_NAME.get(policy)
    return rule.evidence if rule is not None else None


# --- generated artefacts -------------------------------------------------------------------------


def config_document(env: str) -> dict[str, Any]:
    """``policies/config/tiers/<env>.json``: an entry per rule (packs' and the audit's), each with a level."""
    return {r.name: r.config_for(env) for r in ALL_RULES}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_readme() -> str:
    lines = [
        "# Policy catalogue",
        "",
        "<!-- Generated by `python -m mlops_platform.policies.catalogue`; do not edit by hand. -->",
        "",
        f"{len(RULES)} rules in {len(PACKS)} CrossGuard packs, and {len(REGISTRY_RULES)} the audit runs "
        "itself (they ask the image registries: see *supply-chain*). Run a pack with the config of the "
        "environment's tier:",
        "",
        "```sh",
        "pulumi preview -s prod --policy-pack policies/mlops-security --policy-pack-config "
        "policies/config/tiers/prod.json",
        "```",
        "",
        "Repeat `--policy-pack`/`--policy-pack-config` for `mlops-reliability` and `mlops-governance` (one "
        "config file per tier serves all three packs; see *Configuration* below). `mlops audit`, "
        "`mlops preview --pulumi` and `mlops up` pick the file by the spec's `environment.tier` and merge "
        "`policies/config/environments/<env>.json`, when present, over it.",
        "",
        "## Conventions",
        "",
        "- **Names** are `<resource>-<check>` with a target-neutral resource (`workload`, `image`, `secret`, "
        "`network`, `model`...): one rule covers Kubernetes and Docker alike.",
        "- **Tags** (visible through `GetAnalyzerInfo`): `control:<framework>:<control-id>` for each mapped "
        "control, `target:<kubernetes|docker>`, `area:<security|reliability|governance>`, "
        "`scope:<resource|stack>`, and `non-waivable` for rules that no waiver may suppress.",
        "- **Framework** (`PolicyComplianceFramework`) is the first control listed; the tags carry all of "
        "them.",
        "- **Applicability**: every rule declares where it applies (types, and a predicate where the type "
        "alone does not tell). On any other resource the pack answers *not applicable* "
        "(`PolicyNotApplicable`), which the engine leaves out of its passed policies and every report "
        "counts apart: a check is a rule evaluated on a resource it applies to.",
        "- **Pod-bearing kinds**: the pod-spec rules read every kind that holds a pod spec in every API "
        "version pulumi-kubernetes generates (table generated from the SDK: "
        "`python -m mlops_platform.policies.pod_types`), with containers, initContainers and "
        "ephemeralContainers. `*List` and `*Patch` types are not applicable: a list holds whole objects "
        "declared elsewhere, a patch leaves unset fields unchanged rather than unset.",
        "- **Objects Kubernetes creates itself** (the `kubernetes` Service in `default`, the `default` "
        "ServiceAccount and the `kube-root-ca.crt` ConfigMap of each namespace) are not applicable to "
        "`namespace-not-default`: a program that adopts one cannot choose its namespace.",
        "- **Unknown values** during preview never pass: a rule that needs a value which is unknown "
        "reports a "
        "violation saying so (pulumi-policy alone would downgrade it to an advisory note).",
        "",
        "| Framework id | Framework | Version |",
        "|---|---|---|",
    ]
    lines += [f"| `{fid}` | {fw.name} | {fw.version} |" for fid, fw in FRAMEWORKS.items()]
    lines += [
        "",
        "## Configuration",
        "",
        "`policies/config/tiers/{dev,staging,prod}.json` are in `--policy-pack-config` format: every rule "
        "has an explicit `enforcementLevel` (advisory in dev, mostly mandatory in staging, all mandatory in "
        "prod) plus "
        "its per-tier knobs. One file serves all three packs: the engine passes entries for policies a "
        "pack does "
        "not have through `Configure` unchanged and the pack ignores them, but only if the entry has a valid "
        "`enforcementLevel` (pulumi/pulumi `pkg/resource/analyzer/config.go` `applyConfig` keeps unknown "
        "policy "
        "names with an empty level, and `analyzer.Configure` in "
        "`sdk/go/common/resource/plugin/analyzer_plugin.go` "
        'rejects an empty level with `invalid enforcement level ""`). An entry without `enforcementLevel` '
        "would also downgrade a policy to advisory in pulumi-policy, so the files never omit it (tested).",
        "",
        "## Summary",
        "",
        "| Rule | Pack | Severity | dev | staging | prod | Targets | Waivable |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ALL_RULES:
        lv = {str(tier): level.value for tier, level in r.levels.items()}
        lines.append(
            f"| [`{r.name}`](#{r.name}) | {r.pack} | {r.severity.value} | {lv['dev']} | {lv['staging']} | "
            f"{lv['prod']} "
            f"| {', '.join(r.targets)} | {'no' if r.non_waivable else 'yes'} |"
        )
    for pack, blurb in [*PACKS.items(), (SUPPLY_CHAIN, SUPPLY_CHAIN_BLURB)]:
        lines += ["", f"## {pack}", "", blurb]
        for r in [r for r in ALL_RULES if r.pack == pack]:
            name, version, ref = r.framework
            lines += [
                "",
                f"### {r.name}",
                "",
                _cell(r.description),
                "",
                f"- **Severity:** {r.severity.value}; **scope:** {'stack' if r.stack else 'resource'}; "
                f"**targets:** {', '.join(r.targets)}; **waivable:** {'no' if r.non_waivable else 'yes'}",
                f"- **Applies to:** {r.applies_to.summary} (not-applicable elsewhere: no check counted)",
                f"- **Framework:** {name} {version}, {ref} ({r.spec_title})",
                "- **Controls:**",
                *(
                    f"  - `{m.control}` ({m.coverage}): {_cell(m.rationale)}"
                    + (f"; missing: {_cell(m.missing)}" if m.missing else "")
                    for m in r.mappings
                ),
                "- **Levels:** " + ", ".join(f"{env} {r.levels[env].value}" for env in ENVIRONMENTS),
                f"- **Remediation:** {_cell(r.remediation)}",
            ]
            if r.schema:
                knobs = []
                for key, prop in r.schema.items():
                    per_env = "; ".join(
                        f"{env} `{json.dumps(r.knobs[env][key])}`"
                        for env in ENVIRONMENTS
                        if key in r.knobs.get(env, {})
                    )
                    knobs.append(
                        f"`{key}` (default "
                        f"`{json.dumps(prop.get('default'))}`{'; ' + per_env if per_env else ''})"
                    )
                lines.append(f"- **Config:** {', '.join(knobs)}")
    lines += ["", "## Rules per framework", "", "| Framework | Rules |", "|---|---|"]
    for fid, count in framework_counts().items():
        lines.append(f"| `{fid}` | {count} |")
    lines += _coverage_table()
    lines += _admission_section()
    return "\n".join(lines) + "\n"


ADMISSION_CONFIG = CONFIG_DIR / "admission.json"


def admission_document() -> dict[str, Any]:
    """``policies/config/admission.json``: per tier, whether ``mlops up`` installs the admission policies."""
    return {str(tier): {"install": INSTALL_BY_DEFAULT[tier]} for tier in ENVIRONMENTS}


def _admission_section() -> list[str]:
    cel = [r for r in RULES if isinstance(r.admission, Cel)]
    lines = [
        "",
        "## In the cluster: admission policies",
        "",
        f"{len(cel)} of the {len(RULES)} rules are also ValidatingAdmissionPolicies (CEL, evaluated by the "
        "API "
        "server itself: no webhook, no controller), generated from the same declarations with the same "
        "messages: `mlops admission render ENV -o DIR` writes an environment's, `mlops up --admission` "
        "installs them after the update (by default in the tiers `policies/config/admission.json` names: "
        + ", ".join(str(t) for t, on in INSTALL_BY_DEFAULT.items() if on)
        + "). One policy and one binding per rule, named `mlops.<environment>.<rule>`: the binding "
        "matches the environment's namespace; mandatory rules deny, advisory rules warn and audit, at the "
        "environment's levels; knobs are the environment's policy config. A waiver of the environment "
        "exempts the objects it covers until the end of its `expires` day: CEL in the API server has no "
        "clock, so the policy compares the expiry with the time the API server stamps on the object of "
        "each request (`metadata.creationTimestamp` on create, the writer's `metadata.managedFields` time "
        "on update; see `policies/admission.py`).",
        "",
        "| Rule | In the cluster | Matches |",
        "|---|---|---|",
    ]
    for r in RULES:
        if isinstance(r.admission, Cel):
            lines.append(f"| [`{r.name}`](#{r.name}) | CEL | {r.admission.match.summary} |")
        else:
            lines.append(f"| [`{r.name}`](#{r.name}) | no: {_cell(r.admission.why)} | - |")
    lines += [
        "",
        "### Where the two engines may differ",
        "",
        "The equivalence tests (`tests/admission`) send every case of the rule test tables, every bundled "
        "and "
        "broken environment and a corpus of mutations to a real API server and compare its verdict (denied, "
        "warned or admitted, by which rule, with which messages) with the packs' on the same object. They "
        "find no other difference than these, and assert each:",
        "",
    ]
    lines += [f"- **{d.id}**: {d.text}" for d in DIFFERENCES]
    return lines


def control_coverage() -> dict[str, dict[Coverage, list[str]]]:
    """Per ``<framework>:<control>``, the rules covering it fully and partly, in catalogue order."""
    out: dict[str, dict[Coverage, list[str]]] = {}
    for r in ALL_RULES:
        for m in r.mappings:
            out.setdefault(m.control, {Coverage.FULL: [], Coverage.PARTIAL: []})[m.coverage].append(r.name)
    return out


def _coverage_table() -> list[str]:
    lines = [
        "",
        "## Control coverage",
        "",
        "Each mapping says whether the rule covers the control **fully** (over the resources an environment "
        "declares, it checks what the control's text asks of a configuration) or **partly** (the rule's "
        "entry above says what is missing). A report shows a control as *pass* only when a rule covering "
        "it fully was judged and passed; with partial coverage alone it reads *partly evidenced*, with "
        "what is missing. Everything here is design-time configuration: nothing is observed at run time, "
        "and organisational or manual controls are never evidenced.",
        "",
        "| Control | Title | Full coverage | Partial coverage | Best result |",
        "|---|---|---|---|---|",
    ]
    coverage = control_coverage()
    for control in sorted(coverage, key=lambda c: (c.split(":", 1)[0], natural_key(c.split(":", 1)[1]))):
        fw, ref = control.split(":", 1)
        by = coverage[control]
        best = "pass" if by[Coverage.FULL] else "partly evidenced"
        lines.append(
            f"| `{control}` | {_cell(control_title(fw, ref))} | "
            f"{', '.join(f'`{n}`' for n in by[Coverage.FULL]) or '-'} | "
            f"{', '.join(f'`{n}`' for n in by[Coverage.PARTIAL]) or '-'} | {best} |"
        )
    return lines


def framework_counts() -> dict[str, int]:
    """How many rules map to at least one control of each framework."""
    return {
        fid: sum(any(c.startswith(f"{fid}:") for c in r.controls) for r in ALL_RULES) for fid in FRAMEWORKS
    }


def artefacts() -> dict[Path, str]:
    out = {README: render_readme()}
    for env in ENVIRONMENTS:
        out[CONFIG_DIR / "tiers" / f"{env}.json"] = json.dumps(config_document(env), indent=2) + "\n"
    out[ADMISSION_CONFIG] = json.dumps(admission_document(), indent=2) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the generated files are stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in artefacts().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("stale: " + ", ".join(str(p) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
