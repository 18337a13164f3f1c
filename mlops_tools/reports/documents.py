"""The document formats (text, Markdown, HTML), rendered by jinja2 from the shared view."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mlops_platform.tools.reports.escape import anchor, strip_controls
from mlops_platform.tools.reports.evidence import MAX_OBSERVATIONS

TEMPLATES = {"text": "report.txt.j2", "markdown": "report.md.j2", "html": "report.html.j2"}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(value: Any) -> str:
    """Make arbitrary text inert in a Markdown table cell: no markup, no raw HTML, one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def md_code(value: Any) -> str:
    """A code span that survives any backticks inside (CommonMark: a longer fence) and table pipes."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mlops_platform.tools.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["mdcode"] = md_code
    env.filters["anchor"] = anchor
    return env


def render_document(fmt: str, report: dict[str, Any]) -> str:
    template = _environment().get_template(TEMPLATES[fmt])
    return strip_controls(
        template.render(
            report=report,
            views=report["environments"],
            provenance=report["provenance"],
            generated_at=report["provenance"]["generated_at"],
            passed=report["passed"],
            max_observed=MAX_OBSERVATIONS,
        )
    )
