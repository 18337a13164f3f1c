"""YAML reading that remembers where every key came from, types scalars as Pulumi does, and has limits.

PyYAML's composer (with the libyaml C parser when available) gives each node a start mark, so one
walk builds both the plain data and a map from key paths to 1-based line numbers. Duplicate keys,
which YAML forbids but PyYAML silently collapses, are reported as problems.

**Scalars are typed as the Pulumi CLI types them.** The CLI reads stack files with go-yaml v3, which
follows YAML 1.2 for plain scalars rather than PyYAML's YAML 1.1: ``yes``/``on``/``off`` stay strings,
``1:30`` stays a string (not 90), ``0o14`` is 12 and ``012`` is 10 (v3 still reads a leading ``0``
as octal), ``1_000`` is 1000, ``2026-03-31`` stays a string. :func:`pulumi_scalar` is that reading;
every plain scalar (keys too) goes through it. ``tests/realengine/test_scalar_typing.py`` feeds the same
scalars through the real CLI and compares.

**Limits** (a hostile or broken file gets a located error, never a crash, a hang or an OOM kill):
:data:`MAX_FILE_BYTES`, :data:`MAX_DEPTH`, :data:`MAX_ALIAS_NODES` and :data:`MAX_ALIAS_CHARS`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from mlops_platform.heap import paused_gc

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathKey = tuple[str | int, ...]

# 32 MiB. A 20,000-model prod stack file is 12.4 MiB (650 bytes a model; 1,000 models: 0.6 MiB), so
# the limit leaves room for about 50,000 models. It is there for hostile input (a file that never
# ends, /dev/zero): reading is linear in the size (the event reader: about 1.5 s and 300 MB for the
# 20,000-model file), so 32 MiB bounds a hostile file to a few seconds and under a gigabyte.
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 64  # nesting of mappings and lists; the spec's deepest path is 7
MAX_ALIAS_NODES = 100_000  # nodes built by expanding YAML aliases (billion laughs: 10^9 from 1.3 KB)
MAX_ALIAS_CHARS = 8 * 1024 * 1024  # 8 MiB: characters of scalars built by expanding aliases
MAX_MESSAGE_CHARS = 1_000  # one problem's message, whatever a value in it holds
MAX_ECHO_CHARS = 80  # a value quoted in a message

# PyYAML's composer recurses: with PyYAML 6.0.3's libyaml, 100,000 nested flow collections (200 KB)
# crashed the interpreter (SIGSEGV); 6.0.4's libyaml refuses deep flow nesting itself ("exceeded
# maximum nesting depth", between 1,000 and 10,000 levels); the pure-Python composer raises
# RecursionError near 300. The pre-check below keeps every build of the composer out of that range.
_SAFE_COMPOSE_DEPTH = 10_000 if _BaseLoader is not yaml.SafeLoader else 200


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem: ``file:line: path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        path = _clip(self.path, MAX_ECHO_CHARS)
        message = _clip(" ".join(self.message.split("\n")), MAX_MESSAGE_CHARS)
        return f"{where}: {path}: {message}" if path else f"{where}: {message}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"


class SourceError(Exception):
    """Every problem found in one or more source files; nothing was built."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(slots=True)
class LocatedYaml:
    """A parsed document plus the line of every key and item in it."""

    file: str
    data: Any
    lines: Mapping[PathKey, int] = field(default_factory=dict)
    duplicates: list[Problem] = field(default_factory=list)
    secure_holders: list[dict[str, Any]] = field(default_factory=list)
    """Every mapping of the document with a ``secure`` key, at any depth (where secrets can be)."""

    def line_of(self, path: PathKey) -> int | None:
        """Line of ``path`` or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            if (line := self.lines.get(path[:end])) is not None:
                return line
        return None


_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_TAG = "tag:mlops-platform,2026:plain"  # an untagged plain scalar, typed by pulumi_scalar
_PLAIN_KEY = re.compile(r"[^\s\[\].'\"]+")


def format_path(path: PathKey) -> str:
    """``serving.models[1].replicas``; an odd key is quoted (``['a b']``) so a problem stays one line."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{_clip(part, MAX_ECHO_CHARS)!r}]"
    return text


# --- echoing values in messages -----------------------------------------------------------------

_SECRET_KEY = re.compile(r"secret|passw|token|webhook|api_?key|credential|private|seed", re.IGNORECASE)
_URL_WITH_CREDENTIALS = re.compile(
    r"^[a-z][a-z0-9+.-]*://([^/\s]*@|\S*[?#]|\S*(hook|token|key|secret))", re.I
)
_TOKEN_LIKE = re.compile(r"(?=[A-Za-z0-9+/=_-]*[0-9])(?=[A-Za-z0-9+/=_-]*[A-Za-z])[A-Za-z0-9+/=_-]{24,}")


def looks_secret(value: Any, path: PathKey = ()) -> bool:
    """Whether echoing ``value`` (found at ``path``) could leak a credential.

    By key (``url_secret``, ``*password*``, ``*token*``...) or by value: a URL carrying credentials,
    a query string or a hook/token path (a pasted webhook URL), or a long token-like string.
    """
    keys = [part for part in path if isinstance(part, str)]
    if keys and _SECRET_KEY.search(keys[-1]):
        return True
    if not isinstance(value, str):
        return False
    shown = value[: 4 * MAX_ECHO_CHARS].strip()  # all that is echoed; bounded: _TOKEN_LIKE is quadratic
    return bool(_URL_WITH_CREDENTIALS.match(shown) or _TOKEN_LIKE.search(shown))


def echo(value: Any, path: PathKey = ()) -> str:
    """``value`` as a message may quote it: repr, clipped, and hidden when it looks like a secret."""
    if looks_secret(value, path):
        size = len(value) if isinstance(value, str) else len(repr(value))
        return f"<hidden: {size} characters that may be a secret>"
    if isinstance(value, dict | list):
        return f"<a {'mapping' if isinstance(value, dict) else 'list'} of {len(value)} entries>"
    return _clip(repr(value), MAX_ECHO_CHARS)


# --- scalars as the Pulumi CLI types them ---------------------------------------------------------

_NAMED_SCALARS: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
# Go's strconv.ParseInt(s, 0, 64) syntax, underscores already removed: a sign, then 0x/0o/0b or a
# leading 0 (octal) or decimal digits.
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_NUMERIC_START = frozenset("0123456789+-")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_MAX_INT_DIGITS = 64  # of any base: 2**64 needs 65 binary digits, 20 decimal ones


class ScalarError(ValueError):
    """A plain scalar the Pulumi CLI would refuse or pass on unpredictably (the message says why)."""


# go-yaml v3's timestamp forms: 2006-1-2T15:4:5.999999999Z07:00 (T or t), 2006-1-2 15:4:5.999999999,
# 2006-1-2; one or two digits for every field but the year.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?))?"
)


def _go_timestamp(text: str) -> str | None:
    """A timestamp as the CLI passes it: Go's ``time.Time.String()`` (``2026-03-31 00:00:00 +0000 UTC``).

    None when ``text`` is not one of go-yaml's timestamp forms (or not a real date: ``2026-02-30``).

    Raises:
        ScalarError: a numeric UTC offset: Go names the zone after the machine's local zone when the
            offset matches it (``CET``), else after the offset, so the program's value would depend on
            the machine running the CLI.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, h1, m1, s1, f1, zone, h2, m2, s2, f2 = match.groups()
    hour, minute, second, fraction = (h1, m1, s1, f1) if h1 is not None else (h2, m2, s2, f2)
    try:
        import datetime as _dt

        moment = _dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    if fraction is not None and len(fraction) > 9:
        return None
    if zone not in (None, "Z"):
        raise ScalarError(
            f"the timestamp {text!r} has a UTC offset: the Pulumi CLI passes it to the program named "
            "after the local time zone of the machine running it; quote it, or write it in UTC (...Z)"
        )
    nanos = (fraction or "").ljust(9, "0")[:9].rstrip("0")
    return f"{moment:%Y-%m-%d %H:%M:%S}{'.' + nanos if nanos else ''} +0000 UTC"


class MergeKeyError(ValueError):
    """``<<`` in a mapping: go-yaml merges it, this reader does not."""


def pulumi_scalar(text: str, *, timestamps: bool = True) -> Any:
    """The value of an untagged plain scalar as go-yaml v3 (the Pulumi CLI's YAML library) resolves it.

    Booleans are only ``true``/``false`` (three spellings each), null only ``~``/``null``/empty;
    integers as Go's ``strconv.ParseInt(s, 0, 64)`` reads them after removing ``_`` (``0x1F``, ``0o14``,
    ``012`` = 10, ``0b11``), then unsigned 64-bit; floats by YAML's pattern (finite only: ``1e400``
    stays a string, as Go's ParseFloat refuses it); everything else is a string, sexagesimal
    ``1:30`` included. Timestamps (``2026-03-31``) become the text the CLI hands the program,
    Go's rendering (``2026-03-31 00:00:00 +0000 UTC``), or stay as written with ``timestamps=False``
    (files only this project reads: YAML 1.2's core schema has no timestamps). ``.inf``/``.nan`` are
    refused, as the CLI refuses them.

    Raises:
        ScalarError: ``.inf``, ``.nan``, a timestamp with a UTC offset.
        MergeKeyError: ``<<``.
    """
    if text in _NAMED_SCALARS:
        value = _NAMED_SCALARS[text]
        if isinstance(value, float):
            raise ScalarError(
                f"{text} has no JSON form: the Pulumi CLI refuses the whole stack file "
                "(json: unsupported value); quote it for a string"
            )
        return value
    if text == "<<":
        raise MergeKeyError("YAML merge keys (<<) are not supported: write the keys out")
    first = text[0]
    if first == ".":
        dotted = float(text) if _DOT_FLOAT.fullmatch(text) else math.inf
        return dotted if math.isfinite(dotted) else text
    if first not in _NUMERIC_START:
        return text
    if timestamps and first.isdigit() and (stamp := _go_timestamp(text)) is not None:
        return stamp
    plain = text.replace("_", "")
    match = _GO_INT.fullmatch(plain)
    if match:
        sign, digits = match.groups()
        prefixed = len(digits) > 1 and digits[1] in "xXoObB"
        if len((digits[2:] if prefixed else digits).lstrip("0")) > _MAX_INT_DIGITS:
            # beyond ParseInt's and ParseUint's range: go-yaml leaves it to the float pattern (an
            # infinite float: a string); int() of over 4,300 digits raises Python's int-to-str limit
            return text
        if prefixed:
            number = int(digits[2:], {"x": 16, "o": 8, "b": 2}[digits[1].lower()])
        elif digits.startswith("0"):
            number = int(digits, 8)
        else:
            number = int(digits)
        number = -number if sign == "-" else number
        if _INT64_MIN <= number <= _INT64_MAX or (not sign and 0 <= number <= _UINT64_MAX):
            return number  # ParseInt's int64, else ParseUint's uint64 (which takes no sign)
    if _GO_YAML_FLOAT.fullmatch(plain):
        value = float(plain)
        if math.isfinite(value):
            return value
    return text


class _PulumiLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The fast loader, every untagged plain scalar tagged for :func:`pulumi_scalar`."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN_TAG
        return super().resolve(kind, value, implicit)


class _Constructor(yaml.SafeLoader):
    """Builds explicitly tagged values (``!!int "3"``); plain scalars inside them go to pulumi_scalar."""


_Constructor.add_constructor(_PLAIN_TAG, lambda _loader, node: pulumi_scalar(node.value))


def load_pulumi_yaml(text: str, file: str = "<text>") -> Any:
    """Plain data of a YAML document, scalars typed as the Pulumi CLI types them, no line tracking.

    Raises:
        SourceError: a syntax error or an exceeded limit, located in ``file``.
    """
    return _read(text, file, timestamps=True).data


def pulumi_config_text(value: Any) -> str:
    """A config value as the Pulumi CLI hands it to a program (``PULUMI_CONFIG``): always text.

    Strings as they are, ``true``/``false``, an empty string for null, numbers and objects as Go's
    ``encoding/json`` writes them (object keys sorted; numbers through float64 unless they fit int64:
    ``1e3`` -> ``1000``, ``1e-7`` -> ``1e-7``, 2^63 -> ``9223372036854776000``), as measured with the
    CLI in ``tests/realengine/test_scalar_typing.py``.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a top-level uint64 stays exact; inside an object it goes through float64
    return _go_json(value)


def pulumi_config_value(value: Any) -> Any:
    """What a program reads back of a stack file value: ``json.loads(pulumi_config_text(value))``.

    ``pulumi.Config.get_object`` decodes the text the CLI hands over as JSON (a string that is not
    JSON stays the string). For a mapping or a list this builds the same value without writing Go's
    text in Python: the C encoder writes the JSON (keys sorted, as Go sorts them) and the C decoder
    reads it back, its two hooks giving each number the value Go's spelling would have had (an
    integer beyond int64 or a float such as ``100.0`` becomes ``1e+19``/``100`` in Go's text). For a
    20,000-model spec: 0.2 s instead of 1.3 s. ``tests/hostile/test_properties.py`` compares the two.
    """
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
        if _LONG_INTEGER.search(text) is None:  # no integer beyond int64: each reads back as itself
            return json.loads(text, parse_float=_go_float_value)
        return json.loads(text, parse_int=_go_int_value, parse_float=_go_float_value)
    text = pulumi_config_text(value)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _go_int_value(text: str) -> Any:
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else json.loads(_go_float(float(number)))


# An integer of 19 digits or more as json.dumps writes one (after "[", ", " or ": "): int64 has 19
# digits, so any shorter integer is within it. Digits inside a string can match too (a sha256 digest
# has runs of them): then the hook reads every integer, as exact, only slower.
_LONG_INTEGER = re.compile(r"(?:\[|, |: )-?[0-9]{19}")


@functools.lru_cache(maxsize=4096)  # a spec repeats its thresholds and rates
def _go_float_value(text: str) -> Any:
    return json.loads(_go_float(float(text)))


def _go_json(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value) if _INT64_MIN <= value <= _INT64_MAX else _go_float(float(value))
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_go_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_go_json(v) for v in value) + "]"
    raise TypeError(f"no Pulumi config form for {type(value).__name__}")


def _go_float(value: float) -> str:
    """Go's ``encoding/json`` float64: shortest digits, ``e`` notation below 1e-6 and from 1e21."""
    if not math.isfinite(value):
        raise ValueError(f"{value} has no JSON form")
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    assert isinstance(exponent, int)
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        point = exponent + len(text) - 1
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{'-' if point < 0 else '+'}{abs(point)}"
    if exponent >= 0:
        body = text + "0" * exponent
    elif -exponent >= len(text):
        body = "0." + "0" * (-exponent - len(text)) + text
    else:
        body = text[:exponent] + "." + text[exponent:]
    return ("-" if sign else "") + body


# --- reading files -------------------------------------------------------------------------------


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it, as users typed it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return str(path)


def read_source_text(path: Path, shown: str | None = None) -> str:
    """The UTF-8 text of ``path``, read bounded by :data:`MAX_FILE_BYTES` (so ``/dev/zero`` is safe).

    Raises:
        SourceError: missing, unreadable, too large, or not UTF-8 (with the line of the bad byte).
    """
    shown = shown or display_path(path)
    try:
        with path.open("rb") as handle:  # a directory: IsADirectoryError
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SourceError([Problem(shown, None, "", "file not found")]) from None
    except OSError as exc:
        raise SourceError([Problem(shown, None, "", f"cannot read: {exc.strerror or exc}")]) from None
    if len(data) > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES // (1024 * 1024)} MiB"
        raise SourceError(
            [Problem(shown, None, "", f"file is larger than {limit} (the limit for a YAML file)")]
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start]
        message = f"not valid UTF-8: byte 0x{byte:02x} at column {column}"
        raise SourceError([Problem(shown, line, "", message)]) from None


def read_located_yaml(path: Path, *, timestamps: bool = True) -> LocatedYaml:
    """Parse ``path``; raise SourceError for a missing file, a syntax error or an exceeded limit.

    Scalars are typed by :func:`pulumi_scalar`; ``timestamps=False`` keeps timestamps as written (for
    files the Pulumi CLI never reads, such as waivers).
    """
    shown = display_path(path)
    return _read(read_source_text(path, shown), shown, timestamps=timestamps)


def _read(text: str, shown: str, *, timestamps: bool) -> LocatedYaml:
    """The document and its lines: from libyaml's events, or through the node graph when it must.

    The event walk (:func:`_build_from_events`) covers the documents people write; anything it does
    not take on (an anchor or alias, an explicit tag, a duplicate key, a problem of any kind) is read
    again through the node graph (:func:`_compose`, :class:`_Builder`), which owns every limit and
    every located message. Both give the same data and lines (``tests/stacks/test_fast_reading.py``).
    """
    with paused_gc():  # a tree of plain values: nothing for the collector to find while it grows
        try:
            return _build_from_events(text, LocatedYaml(shown, None), timestamps)
        except _NodePathNeeded:
            pass
        located = LocatedYaml(shown, None)
        node = _compose(text, shown)
        if node is not None:
            located.data = _Builder(located, timestamps).build(node, ())
        return located


class _NodePathNeeded(Exception):
    """The event walk met something only the node path handles (or reports): read through it."""


_MISSING = object()


def _build_from_events(text: str, out: LocatedYaml, timestamps: bool) -> LocatedYaml:
    """Data and lines of ``text`` straight from libyaml's parser events, without a node graph.

    PyYAML's composer builds a node (two marks, a resolver call) per value and the builder walks the
    graph again; at 20,000 models (13 MB) that was most of ``mlops validate``'s time. Here one loop
    over the events builds the data and records each key's and item's line, as :class:`_Builder`
    does. Plain scalars are typed by :func:`pulumi_scalar`, once per distinct text.

    Raises:
        _NodePathNeeded: an anchor or alias, an explicit tag, a duplicate key, nesting beyond
            :data:`MAX_DEPTH`, more than one document, or anything the parser or
            :func:`pulumi_scalar` refuses: the node path reads it (and reports what is wrong).
    """
    if _BaseLoader is yaml.SafeLoader:
        raise _NodePathNeeded  # no libyaml: the pure-Python parser gains nothing here
    loader = _BaseLoader(text)
    holders = out.secure_holders
    typed: dict[str, Any] = {}  # plain scalar text -> its value (keys and values repeat)
    beside: dict[int, Any] = {}  # id(container) -> its lines: key -> line (a dict), or per item (a list)
    stack: list[tuple[Any, Any, Any]] = []
    container: Any = None  # the dict or list being filled; None at the top
    lines: Any = None  # the lines of ``container``'s keys or items
    key: Any = _MISSING  # in a mapping: the key waiting for its value
    root: Any = None
    root_line = 0
    get_event = loader.get_event
    scalar_event, mapping_start, mapping_end = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.MappingEndEvent
    sequence_start, sequence_end = yaml.SequenceStartEvent, yaml.SequenceEndEvent
    try:
        get_event()  # StreamStartEvent
        event = get_event()
        if not isinstance(event, yaml.DocumentStartEvent):
            raise _NodePathNeeded  # an empty stream: no document
        event = get_event()
        while True:
            kind = type(event)
            if kind is scalar_event:
                if event.tag is not None or event.anchor is not None:
                    raise _NodePathNeeded  # the composer checks anchors (a duplicate is an error)
                text_value = event.value
                if event.implicit[0]:  # plain: typed as the Pulumi CLI types it
                    value = typed.get(text_value, _MISSING)
                    if value is _MISSING:
                        value = typed[text_value] = pulumi_scalar(text_value, timestamps=timestamps)
                else:
                    value = text_value
                if type(container) is dict:
                    if key is _MISSING:
                        if type(value) is not str or value in container:
                            raise _NodePathNeeded  # a key that is no string, or a duplicate
                        key = value
                        if key == "secure":
                            holders.append(container)
                        lines[key] = event.start_mark.line + 1
                    else:
                        container[key] = value
                        key = _MISSING
                elif container is not None:
                    lines.append(event.start_mark.line + 1)
                    container.append(value)
                else:
                    root, root_line = value, event.start_mark.line + 1
            elif kind is mapping_start or kind is sequence_start:
                if (event.tag is not None and not event.implicit) or event.anchor is not None:
                    raise _NodePathNeeded
                new: Any = {} if kind is mapping_start else []
                if type(container) is dict:
                    if key is _MISSING:
                        raise _NodePathNeeded  # a mapping or list as a key
                    container[key] = new
                elif container is not None:
                    lines.append(event.start_mark.line + 1)
                    container.append(new)
                else:
                    root, root_line = new, event.start_mark.line + 1
                if len(stack) >= MAX_DEPTH:
                    raise _NodePathNeeded
                stack.append((container, lines, key))
                container, key = new, _MISSING
                lines = beside[id(new)] = {} if kind is mapping_start else []
            elif kind is mapping_end or kind is sequence_end:
                container, lines, key = stack.pop()
                key = _MISSING
            elif kind is yaml.DocumentEndEvent:
                break
            else:  # an alias
                raise _NodePathNeeded
            event = get_event()
        if not isinstance(get_event(), yaml.StreamEndEvent):
            raise _NodePathNeeded  # a second document
    except (yaml.YAMLError, ScalarError, MergeKeyError):
        raise _NodePathNeeded from None
    finally:
        loader.dispose()
    out.data = root
    out.lines = _TreeLines(root, root_line, beside)
    return out


class _TreeLines(Mapping[PathKey, int]):
    """The line of every key and item of a document, kept beside its containers instead of by path.

    :func:`_build_from_events` records, per mapping, its keys' lines and, per list, its items'; a
    path is looked up by walking the data (``lines[('serving', 'models', 3)]``). Nothing is built per
    path: a 20,000-model file has 456,000 of them, and a run that finds no problem asks for a few.
    The data must not change while these lines are read (callers treat it as read-only).
    """

    def __init__(self, root: Any, root_line: int, beside: dict[int, Any]) -> None:
        self._root = root
        self._root_line = root_line
        self._beside = beside

    def __getitem__(self, path: PathKey) -> int:
        node, line = self._root, self._root_line
        if not line:
            raise KeyError(path)
        for part in path:
            in_mapping = isinstance(node, dict) and isinstance(part, str) and part in node
            if not (in_mapping or (isinstance(node, list) and type(part) is int and 0 <= part < len(node))):
                raise KeyError(path)
            line = self._beside[id(node)][part]
            node = node[part]
        return int(line)

    def __iter__(self) -> Iterator[PathKey]:
        if not self._root_line:
            return
        pending: list[tuple[PathKey, Any]] = [((), self._root)]
        while pending:
            path, node = pending.pop()
            yield path
            if isinstance(node, dict):
                pending.extend(((*path, k), v) for k, v in reversed(node.items()))
            elif isinstance(node, list):
                pending.extend(((*path, i), v) for i, v in reversed(list(enumerate(node))))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _compose(text: str, shown: str) -> yaml.Node | None:
    """The node graph of ``text``; too deep a document is refused before the composer recurses."""
    _check_depth(text, shown)
    loader = None
    try:
        loader = _PulumiLoader(text)  # the pure-Python reader checks characters here already
        return loader.get_single_node()
    except yaml.reader.ReaderError as exc:  # a control character: no mark, only an offset
        # libyaml counts the offset in UTF-8 bytes, PyYAML's pure-Python reader in characters.
        if exc.encoding != "unicode":
            line = text.encode()[: exc.position].count(b"\n") + 1
        else:
            line = text[: exc.position].count("\n") + 1
        reason = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise SourceError([Problem(shown, line, "", f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        mark_line = mark.line + 1 if mark is not None else None
        raise SourceError([Problem(shown, mark_line, "", f"YAML syntax error: {reason}")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_depth(text: str, shown: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` when the text could nest deep enough to crash.

    Nesting needs a ``[``/``{`` or more indentation (a compact ``- - x`` takes two columns a level), so
    ``2 x longest line + flow openers`` bounds it; only above the composer's safe depth are the
    parser's events counted (the parser is iterative; on ordinary files this costs two scans).
    """
    if len(text) < _SAFE_COMPOSE_DEPTH:
        return
    bound = text.count("[") + text.count("{") + 2 * max(map(len, text.splitlines()), default=0) + 2
    if bound < _SAFE_COMPOSE_DEPTH:
        return
    loader = _PulumiLoader(text)
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1
                    raise SourceError([Problem(shown, line, "", _depth_message())])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.StreamEndEvent):
                break
    except yaml.YAMLError:
        return  # the composer reports the syntax error, located
    finally:
        loader.dispose()


def _depth_message() -> str:
    return f"nested deeper than {MAX_DEPTH} levels (the limit for a YAML file)"


class _Builder:
    """Builds plain data from a node graph, counting what alias expansion adds."""

    def __init__(self, out: LocatedYaml, timestamps: bool = True) -> None:
        self.out = out
        self.lines: dict[PathKey, int] = {}
        out.lines = self.lines
        self.timestamps = timestamps
        self.constructor = _Constructor("")
        self.seen: set[int] = set()
        self.alias_nodes = 0
        self.alias_chars = 0

    def _limit(self, node: yaml.Node, path: PathKey, message: str) -> SourceError:
        line = self.lines.get(path) or node.start_mark.line + 1
        return SourceError([Problem(self.out.file, line, format_path(path), message)])

    def build(
        self,
        node: yaml.Node,
        path: PathKey,
        active: frozenset[int] = frozenset(),
        alias: PathKey | None = None,
    ) -> Any:
        """Plain data of ``node``; ``active`` holds the collections being built above it.

        An alias to one of its own ancestors (``a: &x [*x]``) is legal YAML but has no finite plain
        value: it is reported instead of recursing until the interpreter gives up. A node built a
        second time is an alias being expanded: its nodes and characters count against the limits.
        """
        out = self.out
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in active:
            line = node.start_mark.line + 1
            raise SourceError([Problem(out.file, line, format_path(path), "recursive YAML alias")])
        if len(path) > MAX_DEPTH:
            raise self._limit(node, path, _depth_message())
        if alias is None and id(node) in self.seen:
            alias = path  # where an alias expansion starts: the location of an exceeded limit
        self.seen.add(id(node))
        if alias is not None:
            self.alias_nodes += 1
            if isinstance(node, yaml.ScalarNode):
                self.alias_chars += len(node.value)
            if self.alias_nodes > MAX_ALIAS_NODES or self.alias_chars > MAX_ALIAS_CHARS:
                # PyYAML keeps no position for an alias: a list item is located at its list's key.
                line = self.lines.get(alias) if alias and isinstance(alias[-1], str) else None
                message = (
                    f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} values or {MAX_ALIAS_CHARS:,} "
                    "characters (the limit for a YAML file)"
                )
                where = line or out.line_of(alias[:-1])
                raise SourceError([Problem(out.file, where, format_path(alias), message)])
        if isinstance(node, yaml.MappingNode):
            active = active | {id(node)}
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._key(key_node, path)
                child = (*path, key)
                if key in result:
                    out.duplicates.append(
                        Problem(out.file, key_node.start_mark.line + 1, format_path(child), "duplicate key")
                    )
                if key == "secure" and key not in result:
                    out.secure_holders.append(result)
                self.lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child, active, alias)
            return result
        if isinstance(node, yaml.SequenceNode):
            active = active | {id(node)}
            return [self.build(item, (*path, index), active, alias) for index, item in enumerate(node.value)]
        return self._construct(node, path)

    def _key(self, key_node: yaml.Node, path: PathKey) -> str:
        """A mapping key: a string, as Pulumi config and the spec need; anything else is a problem."""
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "mapping" if isinstance(key_node, yaml.MappingNode) else "list"
            raise SourceError(
                [Problem(self.out.file, line, format_path(path), f"a {kind} as a key: keys must be strings")]
            )
        key = self._construct(key_node, (*path, "?"))
        if not isinstance(key, str):
            message = f"key {key_node.value!r} is read as {_kind(key)}: keys must be strings (quote it)"
            raise SourceError(
                [Problem(self.out.file, line, format_path(path), _clip(message, MAX_MESSAGE_CHARS))]
            )
        return key

    def _construct(self, node: yaml.Node, path: PathKey) -> Any:
        """The value of one scalar (or key) node; a value its tag cannot build is a located problem.

        PyYAML's constructors raise assorted exceptions for explicitly tagged values that cannot be
        built: ``!!int abc``, ``!!timestamp 2024-13-45``, unknown tags.
        """
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _PLAIN_TAG:
                try:
                    return pulumi_scalar(node.value, timestamps=self.timestamps)
                except MergeKeyError as exc:
                    line = node.start_mark.line + 1
                    raise SourceError(
                        [Problem(self.out.file, line, format_path(path[:-1]), str(exc))]
                    ) from None
                except ScalarError as exc:
                    line = node.start_mark.line + 1
                    raise SourceError([Problem(self.out.file, line, format_path(path), str(exc))]) from None
            if node.tag == _STR_TAG:
                return node.value  # most quoted values are strings
        try:
            return self.constructor.construct_object(node, deep=True)
        except Exception as exc:
            reason = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
            value = f" {echo(node.value, path)}" if isinstance(node, yaml.ScalarNode) else ""
            line = node.start_mark.line + 1
            raise SourceError(
                [Problem(self.out.file, line, format_path(path), f"invalid value{value}: {reason}")]
            ) from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number"}.get(type(value), type(value).__name__)
