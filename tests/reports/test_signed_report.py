"""A report an auditor can sign: scope in every format, sign-off block, canonical digest, DSSE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mlops_platform.tools.reports import FORMATS, render
from mlops_platform.tools.reports.digest import canonical_digest, digest_matches
from tests.cli_runner import mlops
from tests.reports.report_fixtures import make_dev, make_prod, provenance

STAMP = "2026-06-01T10:00:00Z"


def _render(fmt: str) -> str:
    return render([make_prod(), make_dev()], fmt, provenance=provenance(), generated_at=STAMP)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_states_scope_and_limitations(fmt: str) -> None:
    text = _render(fmt)
    assert "design-time configuration" in text
    assert "manual and organisational controls" in text
    assert (
        "image supply chain, digests resolving in their registry and image signatures: not verified" in text
    )


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_html_and_markdown_end_with_a_sign_off_block(fmt: str) -> None:
    text = _render(fmt)
    tail = text[text.rindex("Sign-off") :]
    for field in ("Reviewer", "Date", "Decision"):
        assert field in tail, fmt


def test_the_json_report_carries_its_canonical_digest() -> None:
    document = json.loads(_render("json"))
    assert document["digest"]["canonicalization"] == "RFC 8785 (JCS)"
    assert document["digest"]["value"] == canonical_digest(document)
    assert digest_matches(document)
    # Key order and whitespace do not change it; a changed value does.
    reordered = json.loads(json.dumps(document, sort_keys=True))
    assert canonical_digest(reordered) == document["digest"]["value"]
    document["passed"] = not document["passed"]
    assert not digest_matches(document)


def _keys(tmp_path: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / "reviewer.pem", tmp_path / "reviewer.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def test_sign_and_verify_a_report_and_an_edit_fails(tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    report.write_text(_render("json"), encoding="utf-8")
    private, public = _keys(tmp_path)
    signed = mlops("report", "sign", str(report), "--key", str(private))
    assert signed.returncode == 0, signed.stderr
    envelope = json.loads((tmp_path / "audit.json.dsse.json").read_text())
    assert envelope["payloadType"] == "application/vnd.mlops-platform.audit-report+json"
    assert len(envelope["signatures"]) == 1
    ok = mlops("report", "verify", str(report), "--key", str(public))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"verified: {report} (sha256 ")

    # An edit keeping the digest consistent is still not the report that was signed.
    document = json.loads(report.read_text())
    document["passed"] = True
    document["digest"]["value"] = canonical_digest(document)
    report.write_text(json.dumps(document), encoding="utf-8")
    edited = mlops("report", "verify", str(report), "--key", str(public))
    assert edited.returncode == 1
    assert (
        edited.stderr.strip() == f"FAILED: {report}: differs from the report that was signed: it was edited"
    )

    # Another key does not verify the envelope.
    _, other = _keys(tmp_path / "other") if (tmp_path / "other").mkdir() is None else (None, None)
    assert other is not None
    wrong = mlops("report", "verify", str(report), "--key", str(other))
    assert wrong.returncode == 1 and wrong.stderr.startswith("FAILED: ")


def test_an_edited_report_is_not_signed(tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    document = json.loads(_render("json"))
    document["passed"] = not document["passed"]
    report.write_text(json.dumps(document), encoding="utf-8")
    private, _ = _keys(tmp_path)
    refused = mlops("report", "sign", str(report), "--key", str(private))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"error: {report}: its digest does not match its content: it was edited; not signing it"
    )
    assert not (tmp_path / "audit.json.dsse.json").exists()


def test_signing_never_overwrites_the_report_or_an_envelope_unasked(tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    text = _render("json")
    report.write_text(text, encoding="utf-8")
    private, public = _keys(tmp_path)
    onto_report = mlops("report", "sign", str(report), "--key", str(private), "-o", str(report))
    assert onto_report.returncode == 2
    assert "is an input of this command (--output must name another file)" in onto_report.stderr
    assert report.read_text(encoding="utf-8") == text

    assert mlops("report", "sign", str(report), "--key", str(private)).returncode == 0
    envelope = tmp_path / "audit.json.dsse.json"
    first = envelope.read_bytes()
    again = mlops("report", "sign", str(report), "--key", str(private))
    assert again.returncode == 2
    assert "already exists (pass --force to overwrite it)" in again.stderr
    assert envelope.read_bytes() == first
    forced = mlops("report", "sign", str(report), "--key", str(private), "--force")
    assert forced.returncode == 0, forced.stderr
    assert mlops("report", "verify", str(report), "--key", str(public)).returncode == 0
