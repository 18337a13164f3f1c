"""``secret_value_kind`` skips a regex only when a substring test proves it cannot match."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_platform.policies.rules import _common

FRAGMENTS = st.sampled_from(
    [
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
        "AKIA" + "A" * 16,
        "ASIA" + "7" * 16,
        "ghp_" + "a" * 36,
        "ghs_" + "b" * 40,
        "xoxb-" + "1" * 12,
        "https://hooks.slack.com/services/T0/B0/x",
        "eyJ" + "a" * 12 + "." + "b" * 12 + "." + "c" * 12,
        "postgres://user:pw@db:5432/x",
        "https://example.com/path",
        "password: hunter22",
        "PASSWORD=${DB}",
        "api_key = abcd1234",
        "Access-Key: zzzzzz",
        "paſſword: hunter22",  # long s: case-insensitively "password", lower() leaves it alone
        "token:\n",
        "\n",
        " ",
        '{"panels": []}',
    ]
)
VALUES = st.lists(FRAGMENTS | st.text(max_size=12), max_size=6).map("".join)


def _unfiltered(value: str, config_file: bool) -> str | None:
    for kind, pattern, _needles in _common._SECRET_VALUE_PATTERNS:
        if pattern.search(value):
            return kind
    if config_file and _common._ASSIGNMENT_RE.search(value):
        return "password/token assignment"
    return None


@settings(max_examples=1500, deadline=None)
@given(value=VALUES, config_file=st.booleans())
def test_prefilters_change_no_verdict(value: str, config_file: bool) -> None:
    assert _common.secret_value_kind(value, config_file) == _unfiltered(value, config_file)


def test_a_non_ascii_spelling_still_reaches_the_regex() -> None:
    assert _common.secret_value_kind("paſſword: hunter22", config_file=True) == "password/token assignment"
