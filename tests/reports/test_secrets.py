"""No report format ever contains a secret value, even one a policy message echoes."""

from __future__ import annotations

import dataclasses
import html

import pytest

from mlops_platform.tools.findings import secret_fingerprint
from mlops_platform.tools.reports import FORMATS, render
from mlops_platform.tools.reports.redact import REDACTED, Redactor
from tests.reports.report_fixtures import SECRET, make_dev, make_prod, provenance


def unescaped(text: str) -> str:
    """The text with HTML/XML entities and JSON/Markdown backslash escapes undone."""
    return html.unescape(text).replace("\\", "")


# Only in a resource's inputs, never fingerprinted: reports must not render inputs at all.
INPUT_ONLY_SECRET = "Qv7-INPUT-ONLY-SECRET-19e0"


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_contains_a_known_secret(fmt: str) -> None:
    prod, dev = make_prod(), make_dev()
    prod.resources[0] = dataclasses.replace(prod.resources[0], inputs={"token": INPUT_ONLY_SECRET})
    assert any(SECRET in f.message for f in prod.findings), "the fixture really echoes the secret"
    text = render([prod, dev], fmt, provenance=provenance(), generated_at="2026-06-01T10:00:00Z")
    assert SECRET not in unescaped(text)
    assert INPUT_ONLY_SECRET not in unescaped(text)
    assert REDACTED in unescaped(text), "the echoing messages are still reported, masked"


def test_secret_with_markup_characters_is_masked_before_escaping() -> None:
    secret = 'p<a>ss"w&rd|`x`'
    prod = make_prod()
    prod.secret_fingerprints = frozenset({secret_fingerprint(secret)})
    prod.findings[0] = dataclasses.replace(prod.findings[0], message=f"value {secret} leaked")
    for fmt in FORMATS:
        text = render([prod], fmt, provenance=provenance(), generated_at="2026-06-01T10:00:00Z")
        assert 'ss"w&rd' not in unescaped(text), fmt
        assert f"value {REDACTED} leaked" in unescaped(text), fmt


def test_redactor_masks_every_occurrence_longest_first() -> None:
    redactor = Redactor([secret_fingerprint("hunter2-long"), secret_fingerprint("hunter2")])
    assert redactor.text("a=hunter2-long b=hunter2 c=hunter2") == "a=[redacted] b=[redacted] c=[redacted]"
    assert redactor.text("nothing here") == "nothing here"
    assert redactor.deep({"k": ["x hunter2", ("hunter2",)]}) == {"k": ["x [redacted]", ("[redacted]",)]}


def test_redactor_ignores_values_too_short_to_mask() -> None:
    redactor = Redactor([secret_fingerprint("on"), "garbage", "0:abc"])
    assert redactor.text("turn it on") == "turn it on"
