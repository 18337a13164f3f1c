"""Credential formats, recognised by detect-secrets' format plugins behind a cheap literal prefilter.

The detectors are detect-secrets' (Yelp, pinned in ``pyproject.toml`` and each pack's requirements):
their regexes and checks (a JWT must decode to JSON, a private key header of any kind: RSA, EC, DSA,
OpenSSH, PGP, SSH2, PuTTY) decide. Chosen are the plugins that name one credential *format* (clouds,
CI and package registries, chat and payment APIs); left out are the entropy scanners and the keyword
scanner (they flag digests, hashes and config prose: our name and assignment rules cover keywords),
the public-IP detector (not a secret), and the format plugins whose patterns match ordinary config
words (Artifactory's ``AP…``, Discord, Mailchimp, Twilio, Telegram, IBM Cloud IAM, SoftLayer,
Cloudant: keyword-shaped or bare alphanumeric runs). detect-secrets 1.5.0 has no Google API key
plugin, so one is added in its own plugin shape (``AIza`` + 35 characters, Google's documented key
format); Google service-account keys are PEM private keys and caught as such.

Prefilter: every detector's patterns need one of its literals (``_NEEDLES``; lower-cased for the
case-insensitive ones), and a substring test is ~100x cheaper than a regex search, so a detector's
regexes run only on a value holding one of its literals (ConfigMaps carry whole dashboards). A test
checks that the prefilter never changes an answer.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, ClassVar

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector


class GoogleApiKeyDetector(RegexBasedDetector):
    """Google Cloud API keys (``AIza`` and 35 URL-safe characters)."""

    secret_type = "Google API Key"
    denylist: ClassVar[list[re.Pattern[str]]] = [re.compile(r"AIza[0-9A-Za-z_\-]{35}")]


# Detector -> (literals one of which every match contains, whether to test them lower-cased).
_NEEDLES: dict[type[RegexBasedDetector], tuple[tuple[str, ...], bool]] = {
    PrivateKeyDetector: (("PRIVATE KEY", "PuTTY-User-Key-File-2"), False),
    AWSKeyDetector: (("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws"), True),
    AzureStorageKeyDetector: (("AccountKey=",), False),
    GoogleApiKeyDetector: (("AIza",), False),
    IbmCosHmacDetector: (("secret",), True),
    GitHubTokenDetector: (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), False),
    GitLabTokenDetector: (
        (
            "glpat-",
            "gldt-",
            "glft-",
            "glsoat-",
            "glrt-",
            "GR1348941",
            "glcbt-",
            "glimt-",
            "glptt-",
            "glagent-",
            "gloas-",
        ),
        False,
    ),
    NpmDetector: ((":_authToken=",), False),
    PypiTokenDetector: (("pypi-AgE",), False),
    SlackDetector: (("xox", "hooks.slack.com"), True),
    JwtTokenDetector: (("eyJ",), False),
    StripeDetector: (("k_live_",), False),
    SendGridDetector: (("SG.",), False),
    OpenAIDetector: (("T3BlbkFJ",), False),
    SquareOAuthDetector: (("sq0csp-",), False),
    BasicAuthDetector: (("://",), False),
}
DETECTORS: tuple[type[RegexBasedDetector], ...] = tuple(_NEEDLES)


@cache
def _instances() -> tuple[tuple[RegexBasedDetector, tuple[str, ...], bool], ...]:
    return tuple((detector(), needles, lower) for detector, (needles, lower) in _NEEDLES.items())


def _found(detector: RegexBasedDetector, value: str) -> bool:
    return next(iter(detector.analyze_string(value)), None) is not None


def credential_kind(value: str, *, prefilter: bool = True) -> str | None:
    """The detect-secrets type of the first credential format found in ``value`` (``None``: none).

    Args:
        value: any text: an env value, a label, a whole configuration file.
        prefilter: skip a detector whose literals ``value`` lacks (off only to test that it is exact).
    """
    lowered: str | None = None
    for detector, needles, lower in _instances():
        if prefilter:
            if lower:
                if lowered is None:
                    lowered = value.lower()
                if not any(n.lower() in lowered for n in needles):
                    continue
            elif not any(n in value for n in needles):
                continue
        if _found(detector, value):
            return str(detector.secret_type)
    return None


def kinds(value: Any) -> list[str]:
    """Every detector type that finds something in ``value`` (for tests and diagnostics)."""
    if not isinstance(value, str):
        return []
    return [str(d.secret_type) for d, _n, _l in _instances() if _found(d, value)]
