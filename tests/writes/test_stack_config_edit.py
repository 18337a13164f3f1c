"""Stack config set at located spans: the values `mlops secrets` writes, and not one other byte.

Examples give the exact text expected; the property test renders stack files in many styles (CR LF
or LF, a BOM, ``---``, 2 or 4 spaces, comments, flow or block mappings, a last line without its line
break, the seed absent, plain or a secret, rotations absent, flow or block) and checks that every
line of the old file is still there, in order, but the lines of a value that changed, which differ
only after their key.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_platform.stacks.yaml_source import load_pulumi_yaml
from mlops_platform.tools.stack_config_edit import ConfigEditError, Value, set_stack_config

PATH = Path("stacks/Pulumi.qa.yaml")
SEED = "mlops-platform:credentialSeed"
ROTATIONS = "mlops-platform:credentialRotations"
CIPHER = "v1:b0gBq8Ll+oi/Ux7i:3Q0p8r6kW1pZ5mJc9a4nq8Qm0k1W2x3y4z5A6B7C8D9E0F1G2H3="
SALT = "v1:K7OerUFqA4Q=:v1:IH3zVdy1/UBDgCTe:C37wLi3ZMrbQNWWx54xtmgyd5DZOHQ=="


def edit(text: str, config: dict[str, Value] | None = None) -> str:
    return set_stack_config(text, PATH, project="mlops-platform", config=config or {SEED: {"secure": CIPHER}})


BLOCK = """\
# qa: comments stay, with their spacing
config:
  mlops-platform:environment:  # who owns it
    name: qa
    tags: [a,b]      # odd spacing stays
  mlops-platform:serving:
    models:
    - name: m
      replicas: +12
# the end
"""


def test_a_new_secret_is_added_after_the_last_config_line_and_nothing_else_changes() -> None:
    after = set_stack_config(
        BLOCK,
        PATH,
        project="mlops-platform",
        config={SEED: {"secure": CIPHER}},
        top_level={"encryptionsalt": SALT},
    )
    assert after == BLOCK.replace(
        "      replicas: +12\n",
        f"      replicas: +12\n  {SEED}:\n    secure: {CIPHER}\nencryptionsalt: {SALT}\n",
    )


def test_crlf_bom_and_four_spaces_are_kept_in_the_lines_added() -> None:
    text = "\ufeffconfig:\r\n    mlops-platform:environment:\r\n        name: qa\r\n"
    assert edit(text) == text + f"    {SEED}:\r\n        secure: {CIPHER}\r\n"


def test_a_flow_config_gets_the_pair_inside_its_braces() -> None:
    assert edit("config: {mlops-platform:environment: {name: qa}}  # one line\n") == (
        f"config: {{mlops-platform:environment: {{name: qa}}, {SEED}: {{secure: {CIPHER}}}}}  # one line\n"
    )
    assert edit("config: {}\n") == f"config: {{{SEED}: {{secure: {CIPHER}}}}}\n"


def test_a_replaced_secret_changes_only_its_ciphertext() -> None:
    text = BLOCK.replace(
        "# the end\n", "  credentialSeed:   # short key, as Pulumi reads it\n    secure: v1:old\n"
    )
    assert edit(text) == text.replace("secure: v1:old", f"secure: {CIPHER}")


def test_a_plaintext_seed_becomes_a_secret_on_its_own_line() -> None:
    text = "config:\n  mlops-platform:credentialSeed: plain-value  # oops\n  x: 1\n"
    assert edit(text) == f"config:\n  mlops-platform:credentialSeed: {{secure: {CIPHER}}}  # oops\n  x: 1\n"


def test_rotations_bump_in_place_and_new_ones_follow_the_last_entry() -> None:
    text = "config:\n  mlops-platform:credentialRotations:\n    a-b: 1  # first\n    c-d: 4\nother: x\n"
    after = edit(text, {ROTATIONS: {"a-b": 2, "e-f": 1}})
    rotated = "    a-b: 2  # first\n    c-d: 4\n    e-f: 1\n"
    assert after == f"config:\n  mlops-platform:credentialRotations:\n{rotated}other: x\n"
    flow = "config:\n  credentialRotations: {a-b: 1}\n"
    assert edit(flow, {ROTATIONS: {"a-b": 2, "e-f": 1}}) == (
        "config:\n  credentialRotations: {a-b: 2, e-f: 1}\n"
    )


def test_an_empty_file_gets_the_layout_pulumi_writes() -> None:
    assert set_stack_config("", PATH, project="p", config={"p:credentialSeed": {"secure": CIPHER}}) == (
        f"config:\n  p:credentialSeed:\n    secure: {CIPHER}\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "config:\n  credentialRotations: [1]\n",
            f"{PATH}:2: config.{ROTATIONS}: a sequence; cannot make it a mapping",
        ),
        (
            "config: [1]\n",
            f"{PATH}:1: config: not a mapping; cannot set config.{ROTATIONS}",
        ),
        (
            "config:\n  r: &a {a-b: 1}\n  credentialRotations: *a\n",
            f"{PATH}: setting config.{ROTATIONS} in place would change more than that; nothing changed",
        ),
    ],
    ids=["a-sequence", "config-not-a-mapping", "shared-anchor"],
)
def test_what_cannot_be_set_in_place_is_refused_with_its_place(text: str, message: str) -> None:
    with pytest.raises(ConfigEditError) as info:
        edit(text, {ROTATIONS: {"a-b": 2}})
    assert str(info.value) == message


# --- the property ---------------------------------------------------------------------------------


@st.composite
def stack_files(draw: st.DrawFn) -> str:
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    pad = " " * draw(st.sampled_from([2, 4]))
    lines = ["\ufeff# qa" if draw(st.booleans()) else "# qa"]
    if draw(st.booleans()):
        lines.append("---")
    if draw(st.booleans()):
        lines.append(f"encryptionsalt: {SALT}")
    flow_config = draw(st.booleans())
    seed = draw(st.sampled_from(["absent", "secret", "plain", "short-secret"]))
    rotations = draw(st.sampled_from(["absent", "block", "flow"]))
    comment = draw(st.sampled_from(["", "  # note", " #x"]))
    if flow_config:
        pairs = ["mlops-platform:environment: {name: qa}"]
        if seed in ("secret", "short-secret"):
            pairs.append(f"{'credentialSeed' if seed == 'short-secret' else SEED}: {{secure: v1:old}}")
        elif seed == "plain":
            pairs.append(f"{SEED}: plain")
        if rotations != "absent":
            pairs.append(f"{ROTATIONS}: {{a-b: 1}}")
        lines.append("config: {" + ", ".join(pairs) + "}" + comment)
    else:
        lines += ["config:", f"{pad}mlops-platform:environment:{comment}", f"{pad}{pad}name: qa"]
        if seed in ("secret", "short-secret"):
            lines += [
                f"{pad}{'credentialSeed' if seed == 'short-secret' else SEED}:",
                f"{pad}{pad}secure: v1:old",
            ]
        elif seed == "plain":
            lines.append(f"{pad}{SEED}: plain{comment}")
        if rotations == "block":
            lines += [f"{pad}{ROTATIONS}:", f"{pad}{pad}a-b: 1{comment}", f"{pad}{pad}c-d: 3"]
        elif rotations == "flow":
            lines.append(f"{pad}{ROTATIONS}: {{a-b: 1, c-d: 3}}{comment}")
    if draw(st.booleans()):
        lines.append("# after config")
    if draw(st.booleans()):
        lines.append("environment:\n- qa-env".replace("\n", nl))
    ending = nl if draw(st.booleans()) else ""
    return nl.join(lines) + ending


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=stack_files(), rotate=st.sampled_from([{}, {"a-b": 2}, {"a-b": 2, "e-f": 1}]))
def test_only_the_values_set_change(text: str, rotate: dict[str, int]) -> None:
    config: dict[str, Value] = {SEED: {"secure": CIPHER}}
    if rotate:
        config[ROTATIONS] = rotate
    after = set_stack_config(
        text, PATH, project="mlops-platform", config=config, top_level={"encryptionsalt": SALT}
    )
    data = load_pulumi_yaml(after)
    seed_key = next(k for k in data["config"] if k.endswith("credentialSeed"))
    assert data["config"][seed_key] == {"secure": CIPHER}
    assert data["encryptionsalt"] == SALT
    old, new = text.splitlines(keepends=True), after.splitlines(keepends=True)
    nl = "\r\n" if "\r\n" in text else "\n"
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        for line in new[j1:j2]:  # what was added or rewritten ends as the file's lines end
            assert line.endswith(nl) or j2 == len(new), (op, line)
        if op == "replace":  # a line whose value changed: the same up to its value
            for before, now in zip(old[i1:i2], new[j1:j2], strict=False):
                if before is old[-1] and now == before + nl:  # the last line gets its line break
                    continue
                key = re.match(r"\ufeff?\s*\S+?:(?=\s|$)", before)
                assert key is not None and now.startswith(key.group(0)), (before, now)
        elif op == "delete":
            pytest.fail(f"lines removed: {old[i1:i2]!r}")
