"""Property tests: whatever is done to a valid spec, loading yields a spec or a clean located error.

Two levels: structural mutations of the parsed data (dumped back to YAML), and raw byte edits of
the file text. Neither may ever raise anything but ``SourceError``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_platform.stacks.loader import DEFAULTS_FILE, load_environment
from mlops_platform.stacks.schema import EnvironmentSpec
from mlops_platform.stacks.yaml_source import SourceError, display_path
from tests.stacks.stack_fixtures import MINIMAL_STACK, STACKS, assert_well_located

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
BASES = {
    "minimal": yaml.safe_load(MINIMAL_STACK),
    "prod": yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text(encoding="utf-8")),
}
# Each base saved under its own stack name (the loader refuses a stack name other than environment.name).
STACK_NAMES = {base: spec["config"]["mlops-platform:environment"]["name"] for base, spec in BASES.items()}
RAW_BASES = {
    "minimal": MINIMAL_STACK.encode(),
    "prod": (STACKS / "Pulumi.prod.yaml").read_bytes(),
}

Path_ = tuple[str | int, ...]
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# The line breaks a YAML reader counts (PyYAML's reader: \r\n, \r, \n, NEL, LS, PS).
YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["0", "1.5", "", "null", "yes", "ghcr.io/x/y:1", "a@b.cd", "0 * * * *", "-", "{"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)
keys = st.one_of(st.text(max_size=20), st.sampled_from(["name", "min", "max", "version", "alias", "uri"]))


def paths(data: Any, path: Path_ = ()) -> list[Path_]:
    """Every key or item path below ``data`` (the root excluded)."""
    found: list[Path_] = []
    children: Any = (
        data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    )
    for key, value in children:
        found.append((*path, key))
        found += paths(value, (*path, key))
    return found


def parent_of(data: Any, path: Path_) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def mutate(data: Any, draw: st.DataObject) -> str:
    """Apply one random mutation in place; return its description (for failure reports)."""
    kind = draw.draw(st.sampled_from(["delete", "replace", "insert", "duplicate", "rename"]), label="kind")
    all_paths = paths(data)
    if kind == "insert":
        mappings = [p for p in all_paths if isinstance(parent_of(data, (*p, None)), dict)]
        target = draw.draw(st.sampled_from([(), *mappings]), label="mapping")
        mapping = parent_of(data, (*target, None))
        key = draw.draw(keys, label="key")
        mapping[key] = draw.draw(values, label="value")
        return f"insert {key!r} under {target}"
    if kind == "duplicate":
        lists = [p for p in all_paths if isinstance(parent_of(data, p), list)]
        if not lists:
            return "duplicate: no list"
        target = draw.draw(st.sampled_from(lists), label="item")
        items = parent_of(data, target)
        items.insert(int(target[-1]) + 1, copy.deepcopy(items[int(target[-1])]))
        return f"duplicate {target}"
    if not all_paths:
        return f"{kind}: nothing left"
    target = draw.draw(st.sampled_from(all_paths), label="path")
    container = parent_of(data, target)
    if kind == "delete":
        del container[target[-1]]
    elif kind == "replace":
        container[target[-1]] = draw.draw(values, label="value")
    elif isinstance(container, dict):  # rename
        new_key = draw.draw(keys, label="new key")
        container[new_key] = container.pop(target[-1])
    return f"{kind} {target}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutations")


def load_or_error(path: Path) -> EnvironmentSpec | SourceError:
    """The spec, or the SourceError: any other exception escapes and fails the test."""
    try:
        return load_environment(path)
    except SourceError as exc:
        return exc


@pytest.mark.parametrize("base", sorted(BASES))
@SETTINGS
@given(data=st.data())
def test_mutated_spec_loads_or_fails_cleanly(base: str, data: st.DataObject, workdir: Path) -> None:
    spec = copy.deepcopy(BASES[base])
    count = data.draw(st.integers(min_value=1, max_value=3), label="mutations")
    done = [mutate(spec, data) for _ in range(count)]
    path = workdir / f"Pulumi.{STACK_NAMES[base]}.yaml"
    path.write_text(yaml.dump(spec, Dumper=DUMPER, sort_keys=False, allow_unicode=True), encoding="utf-8")
    outcome = load_or_error(path)
    if isinstance(outcome, SourceError):
        assert_well_located(outcome)
        assert str(outcome).count("\n") == len(outcome.problems) - 1, done
        assert "Traceback" not in str(outcome)


byte_edits = st.lists(
    st.tuples(
        st.sampled_from(["delete", "insert", "replace"]),
        st.floats(min_value=0, max_value=1, exclude_max=True),
        st.binary(min_size=1, max_size=4)
        | st.sampled_from([b":", b"-", b"\t", b"{", b"[", b"&a", b"*a", b"\n"]),
    ),
    min_size=1,
    max_size=6,
)


def apply_byte_edits(raw: bytes, edits: list[tuple[str, float, bytes]]) -> bytes:
    out = bytearray(raw)
    for kind, where, payload in edits:
        at = int(where * len(out))
        if kind == "delete":
            del out[at : at + len(payload)]
        elif kind == "insert":
            out[at:at] = payload
        else:
            out[at : at + len(payload)] = payload
    return bytes(out)


@pytest.mark.parametrize("base", sorted(RAW_BASES))
@SETTINGS
@given(edits=byte_edits)
def test_byte_edited_file_loads_or_fails_cleanly(
    base: str, edits: list[tuple[str, float, bytes]], workdir: Path
) -> None:
    path = workdir / f"Pulumi.{STACK_NAMES[base]}.yaml"
    raw = apply_byte_edits(RAW_BASES[base], edits)
    path.write_bytes(raw)
    outcome = load_or_error(path)
    if not isinstance(outcome, SourceError):
        return
    for problem in outcome.problems:
        assert problem.file in {display_path(path), display_path(DEFAULTS_FILE)}, problem
        if problem.message.startswith("cannot read:"):  # not UTF-8: there is no line to point at
            assert problem.line is None
            continue
        # YAML reports an unexpected end of the stream on the line after the last newline.
        source = raw if problem.file == display_path(path) else DEFAULTS_FILE.read_bytes()
        text = source.decode(errors="replace")
        lines = len(YAML_LINE_BREAK.split(text))  # YAML breaks lines at \r and NEL too, not only \n
        assert problem.line is not None and 1 <= problem.line <= lines, problem


def test_mutations_do_reach_both_outcomes(workdir: Path) -> None:
    """The properties are not vacuous: a harmless and a harmful mutation of the same base."""
    spec = copy.deepcopy(BASES["minimal"])
    spec["config"]["mlops-platform:storage"]["volumes"].append({"name": "extra", "size_gib": 1})
    path = workdir / f"Pulumi.{STACK_NAMES['minimal']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    assert isinstance(load_or_error(path), EnvironmentSpec)
    spec["config"]["mlops-platform:storage"]["volumes"].append({"name": "extra", "size_gib": 1})
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    outcome = load_or_error(path)
    assert isinstance(outcome, SourceError)
    assert_well_located(outcome)
