"""Escaping shared by every report format: what any field (a stack name, a message) may carry.

Each format escapes its own syntax (jinja2's HTML autoescape, ``md_escape``, ElementTree, ``json``);
these cover what those leave through:

- :func:`strip_controls`: C0/C1 control characters (an ANSI escape in a stack name rewrites the
  terminal showing a text report; XML 1.0 cannot carry them at all, even escaped) become U+FFFD.
  Applied to a whole rendered document, so no field is missed.
- :func:`anchor`: a fragment identifier (Markdown link target, HTML ``id``) made of letters, digits,
  ``-`` and ``_`` only, as GitHub derives heading anchors, so markup in a name never becomes a tag.
"""

from __future__ import annotations

import re
from typing import Any

# Characters XML 1.0 cannot carry, plus DEL and the C1 controls (terminal escapes): never report text.
_CONTROLS = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_ANCHOR = re.compile(r"[^\w\- ]", re.ASCII)


def strip_controls(text: str) -> str:
    """``text`` with every control character but tab and newlines replaced by U+FFFD."""
    return _CONTROLS.sub("\ufffd", text)


def anchor(value: Any) -> str:
    """GitHub's heading-anchor rule: lowercase, punctuation dropped, spaces to ``-`` (ASCII only)."""
    return _NOT_ANCHOR.sub("", str(value).lower()).replace(" ", "-")
