"""Secret detection: detect-secrets' format plugins behind a literal prefilter that changes no verdict.

The credential samples are synthetic, in the documented formats of each issuer (never real keys).
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_platform.policies.rules import _common, _secrets


def _jwt() -> str:
    def part(doc: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': 'svc'})}.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


# (issuer, sample, the detect-secrets type that must recognise it)
CREDENTIALS = [
    ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE", "AWS Access Key"),
    ("aws-sts-key-id", "ASIAY34FZKBOKMUTVV7A", "AWS Access Key"),
    (
        "aws-secret-in-config",
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
        "AWS Access Key",
    ),
    (
        "azure-storage",
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + "A1b2" * 22 + ";",
        "Azure Storage Account access key",
    ),
    ("google-api-key", "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K_l-M3n4O5p6Q", "Google API Key"),
    (
        "gcp-service-account",
        json.dumps({"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n"}),
        "Private Key",
    ),
    ("ibm-cos-hmac", 'secret_access_key = "' + "a1" * 24 + '"', "IBM COS HMAC Credentials"),
    ("github-pat", "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8", "GitHub Token"),
    ("github-actions", "ghs_" + "Z9y8X7w6V5" * 3 + "U4t3S2", "GitHub Token"),
    ("gitlab-pat", "glpat-" + "x1Y2z3A4b5C6d7E8f9G0", "GitLab Token"),
    ("gitlab-runner", "glrt-" + "a1B2c3D4e5F6g7H8i9J0", "GitLab Token"),
    ("npm", "//registry.npmjs.org/:_authToken=npm_" + "a" * 36, "NPM tokens"),
    ("pypi", "pypi-AgEIcHlwaS5vcmc" + "A" * 70, "PyPI Token"),
    ("slack-bot", "xoxb-123456789012-1234567890123-abcdefghijkl", "Slack Token"),
    ("slack-webhook", "https://hooks.slack.com/services/T0001/B0001/abcdefXYZ", "Slack Token"),
    ("jwt", _jwt(), "JSON Web Token"),
    ("basic-auth-url", "postgresql://mlflow:s3cr3tpass@db:5432/mlflow", "Basic Auth Credentials"),
    ("stripe", "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2", "Stripe Access Key"),
    ("sendgrid", "SG." + "a" * 22 + "." + "b" * 43, "SendGrid API Key"),
    ("square", "sq0csp-" + "a1B2c3D4e5" * 4 + "xyz", "Square OAuth Secret"),
    ("openai", "sk-" + "a" * 20 + "T3BlbkFJ" + "b" * 20, "OpenAI Token"),
    ("ssh-rsa", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "Private Key"),
    ("ssh-openssh", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n", "Private Key"),
    ("ssh-ec", "-----BEGIN EC PRIVATE KEY-----\nMHcC\n", "Private Key"),
    ("ssh-dsa", "-----BEGIN DSA PRIVATE KEY-----\nMIIB\n", "Private Key"),
    ("ssh2", "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nP2/5\n", "Private Key"),
    ("putty", "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\n", "Private Key"),
    ("pgp", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n", "Private Key"),
]

NOT_CREDENTIALS = [
    "ghcr.io/acme-ml/fraud-scorer@sha256:" + "7b1f0c9e8d7a6b5c" * 4,
    "https://grafana.example.com/d/abc?orgId=1",
    "postgresql://db:5432/mlflow",
    "-----BEGIN CERTIFICATE-----\nMIIC\n",
    "-----BEGIN PUBLIC KEY-----\nMIIB\n",
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC user@host",
    "eyJ-not-a-token.at-all.really",
    '{"panels": [{"title": "requests per second", "datasource": "prometheus"}]}',
]


@pytest.mark.parametrize(("issuer", "sample", "kind"), CREDENTIALS, ids=[c[0] for c in CREDENTIALS])
def test_credential_formats_are_recognised(issuer: str, sample: str, kind: str) -> None:
    assert _secrets.credential_kind(sample) == kind, issuer
    embedded = f"config:\n  value: {sample}\n  other: 1\n"
    assert kind in _secrets.kinds(embedded), issuer


@pytest.mark.parametrize("value", NOT_CREDENTIALS)
def test_ordinary_values_are_not_credentials(value: str) -> None:
    assert _secrets.credential_kind(value) is None


def test_every_selected_detector_is_a_format_plugin_of_the_library() -> None:
    library = set(get_mapping_from_secret_type_to_class().values())
    own = {d for d in _secrets.DETECTORS if d.__module__ == _secrets.__name__}
    assert own == {_secrets.GoogleApiKeyDetector}
    assert set(_secrets.DETECTORS) - own <= library
    assert all(issubclass(d, RegexBasedDetector) for d in _secrets.DETECTORS)
    recognised = {kind for _issuer, _sample, kind in CREDENTIALS}
    assert {str(d.secret_type) for d in _secrets.DETECTORS} == recognised, "each detector has a sample"


FRAGMENTS = st.sampled_from(
    [sample for _i, sample, _k in CREDENTIALS]
    + NOT_CREDENTIALS
    + ["password: hunter22", "PASSWORD=${DB}", "api_key = abcd1234", "paſſword: hunter22", "\n", " "]
)
VALUES = st.lists(FRAGMENTS | st.text(max_size=12), max_size=6).map("".join)


@settings(max_examples=1500, deadline=None)
@given(value=VALUES)
def test_prefilter_changes_no_verdict(value: str) -> None:
    assert _secrets.credential_kind(value) == _secrets.credential_kind(value, prefilter=False)


def _unfiltered_assignment(value: str, config_file: bool) -> str | None:
    kind = _secrets.credential_kind(value, prefilter=False)
    if kind is None and config_file and _common._ASSIGNMENT_RE.search(value):
        return "password/token assignment"
    return kind


@settings(max_examples=800, deadline=None)
@given(value=VALUES, config_file=st.booleans())
def test_assignment_prefilter_changes_no_verdict(value: str, config_file: bool) -> None:
    assert _common.secret_value_kind(value, config_file) == _unfiltered_assignment(value, config_file)


def test_a_non_ascii_spelling_still_reaches_the_regex() -> None:
    assert _common.secret_value_kind("paſſword: hunter22", config_file=True) == "password/token assignment"


def test_large_config_files_stay_cheap() -> None:
    """A 1 MB dashboard without credentials: the prefilter keeps the scan well under a second."""
    panel = {"title": "latency p99", "expr": "histogram_quantile(0.99, rate(x[5m]))", "id": 1}
    dashboard = json.dumps({"panels": [panel] * 12_000})
    assert len(dashboard) > 1_000_000
    start = time.perf_counter()
    assert _common.secret_value_kind(dashboard, config_file=True) is None
    assert time.perf_counter() - start < 1.0
