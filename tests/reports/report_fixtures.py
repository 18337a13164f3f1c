"""Hand-built audits for the report and waiver tests (the engine is exercised end to end elsewhere).

A uniquely named module (not ``conftest``) so that test files can import its builders by name.

``prod`` fails: one mandatory violation left, one waived, one advisory, a secret echoed by a policy
message and a policy that raised. ``dev`` passes: its only violation is waived.
"""

from __future__ import annotations

from datetime import date

from mlops_platform.tools.findings import (
    AuditResult,
    CapturedResource,
    Check,
    Enforcement,
    Finding,
    Framework,
    PolicyMeta,
    Severity,
    Waiver,
    secret_fingerprint,
)
from mlops_platform.tools.provenance import InputFile, PackSource, Provenance
from mlops_platform.tools.waivers import apply_waivers

# A value the engine saw as secret. No report may ever contain it.
SECRET = "Zx9-SECRET-MARKER-4f1c2a7b"
TODAY = date(2026, 6, 1)
PACK = "mlops-security"


def urn(env: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{env}::mlops-platform::{type_}::{name}"


def policy(
    name: str,
    *,
    enforcement: Enforcement = Enforcement.MANDATORY,
    severity: Severity = Severity.HIGH,
    tags: tuple[str, ...] = (),
    framework: Framework | None = None,
    stack_level: bool = False,
    pack: str = PACK,
) -> PolicyMeta:
    return PolicyMeta(
        name=name,
        pack=pack,
        pack_version="0.1.0",
        display_name=name.replace("-", " ").capitalize(),
        description=f"Checks that {name.replace('-', ' ')}.",
        enforcement=enforcement,
        severity=severity,
        framework=framework,
        tags=tags,
        remediation_steps=f"Fix {name} in the spec.",
        url=f"https://docs.example.org/policies/{name}",
        stack_level=stack_level,
    )


def finding(
    p: PolicyMeta, resource: CapturedResource | None, message: str, kind: str = "violation"
) -> Finding:
    return Finding(
        policy=p.name,
        pack=p.pack,
        enforcement=p.enforcement,
        severity=p.severity,
        urn=resource.urn if resource else "",
        resource_type=resource.type if resource else "",
        message=message,
        kind=kind,
    )


def waiver(
    policy_name: str,
    selector: str,
    *,
    environment: str = "*",
    expires: str = "2026-12-31",
    line: int = 3,
) -> Waiver:
    return Waiver(
        policy=policy_name,
        selector=selector,
        environment=environment,
        reason="Legacy image runs as root until the vendor ships a rootless build.",
        owner="ml-platform@example.org",
        approval_ref="CHG-1234",
        expires=expires,
        source=f"policies/waivers.yaml:{line}",
    )


RUN_AS_NON_ROOT = policy(
    "k8s-workload-run-as-non-root",
    tags=("control:nist-800-53:AC-6", "framework:cis-kubernetes:5.2.7", "security"),
    # Repeats the cis-kubernetes tag in prose: reports must not split the framework in two.
    framework=Framework(
        "CIS Kubernetes Benchmark", "1.9.0", "5.2.7", "Minimize the admission of root containers"
    ),
)
RESOURCE_LIMITS = policy(
    "k8s-workload-resource-limits",
    enforcement=Enforcement.ADVISORY,
    severity=Severity.MEDIUM,
    tags=("control:nist-800-53:SC-6",),
)
NO_PLAINTEXT_SECRET = policy(
    "k8s-secret-no-plaintext",
    severity=Severity.CRITICAL,
    tags=("non-waivable", "control:nist-800-53:SC-28"),
)
VOLUME_BACKUP = policy(
    "storage-volume-backup",
    severity=Severity.MEDIUM,
    framework=Framework(name="soc2", version="2017", reference="CC7.2"),
    tags=("coverage:full:soc2:CC7.2",),  # the only fixture rule that declares full coverage
)
STACK_OWNER = policy(
    "governance-stack-owner",
    severity=Severity.LOW,
    tags=("framework:iso-27001:A.5.9",),
    stack_level=True,
    pack="mlops-governance",
)
POLICIES = [RUN_AS_NON_ROOT, RESOURCE_LIMITS, NO_PLAINTEXT_SECRET, VOLUME_BACKUP, STACK_OWNER]


def resources(env: str) -> list[CapturedResource]:
    deployment = "kubernetes:apps/v1:Deployment"
    return [
        CapturedResource(
            urn(env, deployment, "fraud-stable"), deployment, "fraud-stable", True, {"replicas": 2}
        ),
        CapturedResource(
            urn(env, deployment, "fraud-canary"), deployment, "fraud-canary", True, {"replicas": 1}
        ),
        CapturedResource(
            urn(env, "kubernetes:core/v1:Secret", "db-credentials"),
            "kubernetes:core/v1:Secret",
            "db-credentials",
            True,
            # What a faulty engine might leave behind: reports must never render inputs.
            {"stringData": {"password": SECRET}},
            additional_secret_outputs=("stringData",),
        ),
        CapturedResource(
            urn(env, "kubernetes:core/v1:PersistentVolumeClaim", "artifacts"),
            "kubernetes:core/v1:PersistentVolumeClaim",
            "artifacts",
            True,
            {},
        ),
    ]


def checks(res: list[CapturedResource]) -> list[Check]:
    out = [Check(p.name, p.pack, r.urn) for p in POLICIES if not p.stack_level for r in res]
    return out + [Check(p.name, p.pack, "") for p in POLICIES if p.stack_level]


def make_prod(*, policy_error: bool = True) -> AuditResult:
    res = resources("prod")
    stable, canary, secret, _ = res
    findings = [
        finding(
            RUN_AS_NON_ROOT,
            canary,
            'Deployment "fraud-canary" runs as root (securityContext.runAsNonRoot unset)',
        ),
        finding(
            RUN_AS_NON_ROOT,
            stable,
            'Deployment "fraud-stable" runs as root (securityContext.runAsNonRoot unset)',
        ),
        finding(RESOURCE_LIMITS, stable, 'Deployment "fraud-stable" container "server" has no memory limit'),
        finding(
            NO_PLAINTEXT_SECRET,
            secret,
            f'Secret "db-credentials" holds plaintext stringData.password={SECRET}',
        ),
    ]
    if policy_error:
        findings.append(
            finding(
                STACK_OWNER,
                None,
                "policy raised KeyError: 'owner' (token=" + SECRET + ")",
                kind="policy-error",
            )
        )
    result = AuditResult(
        environment="prod",
        tier="production",
        target="kubernetes",
        resources=res,
        policies=list(POLICIES),
        findings=findings,
        checks=checks(res),
        waivers=[],
        started_at="2026-06-01T10:00:00Z",
        duration_s=12.5,
        secret_fingerprints=frozenset({secret_fingerprint(SECRET)}),
    )
    return apply_waivers(result, [waiver(RUN_AS_NON_ROOT.name, "fraud-stable")], TODAY)


def make_dev() -> AuditResult:
    res = resources("dev")
    stable = res[0]
    result = AuditResult(
        environment="dev",
        tier="development",
        target="docker",
        resources=res,
        policies=list(POLICIES),
        findings=[finding(RUN_AS_NON_ROOT, stable, 'Deployment "fraud-stable" runs as root')],
        checks=checks(res),
        waivers=[],
        started_at="2026-06-01T10:00:00Z",
        duration_s=3.0,
    )
    return apply_waivers(
        result, [waiver(RUN_AS_NON_ROOT.name, "urn:pulumi:dev::*::fraud-*", environment="dev")], TODAY
    )


def provenance() -> Provenance:
    """A fixed provenance, as ``collect_provenance`` records it (tests of the collector are separate)."""
    return Provenance(
        commit="0123456789abcdef0123456789abcdef01234567",
        dirty=False,
        engine="offline",
        as_of=TODAY.isoformat(),
        versions={"mlops-platform": "0.1.0", "pulumi": "3.272.0", "pulumi-policy": "1.21.0"},
        packs=[
            PackSource(PACK, "1.0.0", "ab" * 32, 3),
            PackSource("mlops-governance", "1.0.0", "cd" * 32, 3),
        ],
        policy_library_sha256="ef" * 32,
        inputs=[
            InputFile("spec", "stacks/Pulumi.prod.yaml", "01" * 32, "prod"),
            InputFile("policy-config", "policies/config/prod.json", "02" * 32, "prod"),
            InputFile("waivers", "policies/waivers.yaml", "03" * 32),
        ],
    )
