"""``struct_to_plain`` reads ``Value`` messages directly: the same result as ``to_plain`` of each value."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_platform.tools.engine.props import (
    ARCHIVE_SIG,
    ASSET_SIG,
    OUTPUT_SIG,
    RESOURCE_SIG,
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN,
    struct_to_plain,
    to_plain,
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
    | st.just(UNKNOWN)
    | st.just("hunter22")
)


def _signed(children: Any) -> Any:
    return st.one_of(
        children.map(lambda v: {SIG_KEY: SECRET_SIG, "value": v}),
        st.builds(
            lambda urn, id_: {SIG_KEY: RESOURCE_SIG, "urn": urn, "id": id_},
            st.text(max_size=6),
            st.text(max_size=4),
        ),
        st.builds(
            lambda v, secret: {SIG_KEY: OUTPUT_SIG, "value": v, "secret": secret}, children, st.booleans()
        ),
        st.just({SIG_KEY: OUTPUT_SIG}),  # an unknown output
        st.just({SIG_KEY: ASSET_SIG, "text": "hello"}),
        st.just({SIG_KEY: ARCHIVE_SIG, "path": "/tmp/a.zip"}),
    )


WIRE = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=5), children, max_size=3)
        | _signed(children)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=5), WIRE, max_size=5))
def test_struct_to_plain_is_to_plain_of_each_value(value: dict[str, Any]) -> None:
    struct = struct_pb2.Struct()
    struct.update(value)
    secrets, plain = set[str](), set[str]()
    expected_secrets, expected_plain = set[str](), set[str]()

    got = struct_to_plain(struct, secrets, plain)
    expected = {k: to_plain(v, expected_secrets, expected_plain) for k, v in struct.items()}

    assert got == expected
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert (secrets, plain) == (expected_secrets, expected_plain)


def test_the_real_engines_secret_envelopes_become_the_offline_marker() -> None:
    from mlops_platform.tools.engine.props import SECRET_SIG, SIG_KEY, mask_secret_envelopes
    from mlops_platform.tools.findings import SECRET_MARKER

    envelope = {SIG_KEY: SECRET_SIG, "ciphertext": "v1:abc"}
    inputs = {"data": {"password": envelope}, "env": [{"name": "A", "value": envelope}, {"name": "B"}]}
    masked = mask_secret_envelopes(inputs)
    assert masked == {
        "data": {"password": SECRET_MARKER},
        "env": [{"name": "A", "value": SECRET_MARKER}, {"name": "B"}],
    }
    assert "ciphertext" not in repr(masked)
    assert inputs["data"]["password"] is envelope  # the engine's record is left as it was
