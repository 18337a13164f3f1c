"""``SelectorIndex`` leaves out only selectors that answer False, checked against ``selector_matches``."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_platform.policies.rules._k8s import SelectorIndex, selector_matches
from mlops_platform.policies.rules._model import Res, Unknown

KEYS = st.sampled_from(["app", "model", "track", "tier"])
VALUES = st.sampled_from(["a", "b", "c"])
UNKNOWN = st.just(Unknown(".", "value"))
LABEL_VALUE = st.one_of(VALUES, UNKNOWN)

MATCH_LABELS = st.one_of(
    st.dictionaries(KEYS, LABEL_VALUE, max_size=3),
    UNKNOWN,
    st.just([]),  # odd input: not a mapping
)
EXPRESSION = st.fixed_dictionaries(
    {
        "key": KEYS,
        "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Bogus"]),
        "values": st.lists(VALUES, max_size=2),
    }
)
SELECTOR = st.one_of(
    st.fixed_dictionaries(
        {}, optional={"matchLabels": MATCH_LABELS, "matchExpressions": st.lists(EXPRESSION, max_size=2)}
    ),
    UNKNOWN,
    st.none(),
)
LABELS = st.one_of(st.dictionaries(KEYS, LABEL_VALUE, max_size=4), UNKNOWN, st.none())


def _res(i: int, selector: Any) -> Res:
    return Res(type="kubernetes:policy/v1:PodDisruptionBudget", name=f"p{i}", props={"selector": selector})


@settings(max_examples=400, deadline=None)
@given(selectors=st.lists(SELECTOR, max_size=8), labels=LABELS)
def test_candidates_are_every_selector_that_does_not_answer_false(selectors: list[Any], labels: Any) -> None:
    items = [_res(i, s) for i, s in enumerate(selectors)]
    index = SelectorIndex(items, lambda r: r.props["selector"])

    candidates = index.candidates(labels)

    assert [r.name for r in candidates] == sorted((r.name for r in candidates), key=lambda n: int(n[1:]))
    left_out = [r for r in items if r not in candidates]
    assert all(selector_matches(r.props["selector"], labels) is False for r in left_out)
    assert all(r in candidates for r in items if selector_matches(r.props["selector"], labels) is not False)


def test_a_workload_meets_only_the_selectors_anchored_on_its_rarest_label() -> None:
    # Every selector shares ``component: serving``; each is anchored on its own model instead.
    items = [_res(i, {"matchLabels": {"component": "serving", "model": f"m{i}"}}) for i in range(1000)]
    items.append(_res(1000, {}))  # an empty selector selects everything: always a candidate
    index = SelectorIndex(items, lambda r: r.props["selector"])

    names = [r.name for r in index.candidates({"component": "serving", "model": "m7", "track": "stable"})]

    assert names == ["p7", "p1000"]
