"""Each named difference between the packs and the API server (``DIFFERENCES``), shown on one object.

Every test here asserts both sides: what the packs report on the object as a program sends it, and what
the API server answers. ``test_every_difference_is_asserted`` keeps the list and the tests together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.policies.admission import DIFFERENCE_IDS
from tests.admission.conftest import JUDGED_NS, RAW_NS, Judge
from tests.admission.corpus import completed
from tests.admission.equivalence import Comparison, compare, failed, has_unknown, pack_verdicts, to_object
from tests.admission.test_equivalence import classify
from tests.policies.policy_fixtures import (
    UNKNOWN_BOOLEAN_VALUE,
    R,
    container,
    deployment,
    hpa,
    ingress,
)
from tests.policies.test_policy_rules import SC, m

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("admission")]
CONTROLLERS = ("system:kube-controller-manager", "system:serviceaccount:kube-system:replicaset-controller")

ASSERTED: dict[str, Callable[..., None]] = {}


def asserts(difference: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    assert difference in DIFFERENCE_IDS, difference

    def register(test: Callable[..., None]) -> Callable[..., None]:
        ASSERTED[difference] = test
        return test

    return register


def _compare(judge: Judge, res: R, *, namespace: str | None = JUDGED_NS) -> Comparison:
    obj = to_object(res.type, res.props, name=res.name, namespace=namespace)
    return compare(
        judge.api,
        res.name,
        obj,
        environment=judge.environment("prod"),
        config=judge.config("prod"),
        judged_ns=JUDGED_NS,
        raw_ns=RAW_NS,
        per_rule_ns=judge.per_rule_ns,
    )


def _prod(res: R) -> dict[str, str]:
    obj = to_object(res.type, res.props, name=res.name, namespace=JUDGED_NS)
    return failed(pack_verdicts(obj, Judge.config("prod")))


@asserts("unknown-values")
def test_unknown_values_are_violations_in_the_packs_and_never_reach_a_cluster() -> None:
    res = m(deployment(), (f"{SC}.privileged", UNKNOWN_BOOLEAN_VALUE))
    assert "is unknown during preview" in _prod(res)["workload-no-privileged"]
    assert has_unknown(res.props) and classify(res) == "unknown-values"


@asserts("not-kubernetes")
def test_docker_resources_have_no_admission() -> None:
    res = m(container(), ("privileged", True))
    assert classify(res) == "not-kubernetes"


@asserts("refused-by-the-api-server")
def test_an_object_the_api_server_refuses_never_reaches_the_policies(judge: Judge) -> None:
    res = m(deployment(), ("spec.template.spec.containers.0.livenessProbe", {}))
    assert "workload-health-checks" in _prod(res)
    comparison = _compare(judge, res)
    assert comparison.status == "refused-by-the-api-server"
    assert (
        "livenessProbe" in comparison.cluster[""] and "must specify a handler type" in comparison.cluster[""]
    )


@asserts("defaulted-by-the-api-server")
def test_defaults_are_judged_as_the_api_server_fills_them(judge: Judge) -> None:
    res = hpa().mutate("spec.metrics", [])
    assert _prod(res) == {"autoscaler-bounds-sane": "autoscaler-bounds-sane: no scaling metrics are defined"}
    comparison = _compare(judge, res)
    assert comparison.cluster == {} == comparison.packs_on_held
    assert "defaulted-by-the-api-server" in comparison.normalizations


@asserts("empty-values-dropped")
def test_empty_values_are_dropped_before_admission(judge: Judge) -> None:
    res = (completed(ingress()) or ingress()).mutate("spec.tls.0.secretName", "")
    assert "ingress-tls-required" not in _prod(res)
    comparison = _compare(judge, res)
    assert comparison.cluster == {
        "ingress-tls-required": "ingress-tls-required: spec.tls[0] has no secretName"
    }
    assert comparison.equal_on_held and "empty-values-dropped" in comparison.normalizations


@asserts("canonical-quantities")
def test_quantities_are_judged_in_canonical_form(judge: Judge) -> None:
    res = deployment().mutate("spec.template.spec.containers.0.resources.requests.memory", "0Mi")
    assert "workload-resource-requests" not in _prod(res)
    comparison = _compare(judge, res)
    assert comparison.cluster == {
        "workload-resource-requests": 'workload-resource-requests: container "server" has no memory request '
        "(resources.requests.memory)"
    }
    assert comparison.equal_on_held and "canonical-quantities" in comparison.normalizations


@asserts("controller-owned")
def test_an_object_a_controller_owns_is_judged_through_its_owner(judge: Judge) -> None:
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "rs",
        "uid": "0f1e2d3c-0000-4000-8000-000000000001",
        "controller": True,
    }
    res = m(deployment(), (f"{SC}.readOnlyRootFilesystem", False), ("metadata.ownerReferences", [owner]))
    assert "workload-read-only-root-filesystem" in _prod(res)
    obj = to_object(res.type, res.props, name="owned-by-a-controller", namespace=JUDGED_NS)
    for controller in CONTROLLERS:  # a controller's write: judged through its owner
        verdict = judge.api.create(obj, as_user=controller)
        assert verdict is not None and verdict.admitted and not verdict.warned, (controller, verdict)
    # Anyone else's: the reference is forged as far as admission can tell, and judged as the packs
    # judge (in the judged namespace every policy warns).
    comparison = _compare(judge, res)
    assert comparison.status == "warned", comparison.explain()
    assert "workload-read-only-root-filesystem" in comparison.cluster, comparison.explain()
    forged = judge.api.create(obj, as_user="system:serviceaccount:team-a:deployer")
    assert forged is not None and forged.admitted, forged
    assert any(p.endswith(".workload-read-only-root-filesystem") for p in forged.warned), forged


@asserts("created-by-kubernetes")
def test_objects_the_control_plane_creates_are_not_judged(judge: Judge) -> None:
    res = R("kubernetes:core/v1:ConfigMap", "kube-root-ca.crt", {"metadata": {"name": "kube-root-ca.crt"}})
    assert {"resource-app-labels", "resource-ownership-labels"} <= set(_prod(res))
    comparison = _compare(judge, res)
    assert comparison.status == "admitted" and comparison.cluster == {}
    account = judge.api.get(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": JUDGED_NS},
        }
    )
    assert account is not None and "labels" not in account["metadata"]
    assert "resource-app-labels" in failed(pack_verdicts(account, Judge.config("prod")))
    updated = judge.api.update({**account, "automountServiceAccountToken": False})  # an UPDATE, judged
    assert updated.admitted and not updated.warned, updated
    event: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": JUDGED_NS},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": JUDGED_NS},
        "reason": "Started",
        "message": "started",
    }
    assert "resource-app-labels" in failed(pack_verdicts(event, Judge.config("prod")))
    verdict = judge.api.create(event)
    assert verdict is not None and verdict.admitted and not verdict.warned, verdict


@asserts("ascii-text")
def test_text_functions_are_ascii_in_cel(judge: Judge) -> None:
    arabic_forty = "\u0664\u0660"  # Python's isdigit() is true; RE2's [0-9] is not
    res = deployment().mutate(
        ("metadata", "annotations", L.MODEL_URI), f"models:/fraud-scorer/{arabic_forty}"
    )
    assert "model-registry-source" not in _prod(res)
    comparison = _compare(judge, res)
    assert comparison.cluster["model-registry-source"] == (
        f'model-registry-source: model URI "models:/fraud-scorer/{arabic_forty}" is declared '
        f'registry-version but "{arabic_forty}" is not a version number'
    )


@asserts("namespace-from-request")
def test_the_namespace_comes_from_the_request(judge: Judge) -> None:
    res = deployment()
    del res.props["metadata"]["namespace"]
    sent = to_object(res.type, res.props, name=res.name, namespace=None)
    assert (
        "metadata.namespace is not set"
        in failed(pack_verdicts(sent, Judge.config("prod")))["namespace-not-default"]
    )
    verdict = judge.api.create({**sent, "metadata": {**sent["metadata"], "namespace": JUDGED_NS}})
    assert verdict is not None and verdict.admitted and not verdict.warned


@asserts("waivers-by-object")
def test_waivers_cover_the_objects_of_the_resources_they_select() -> None:
    """Shown end to end in ``test_out_of_band.test_a_waived_object_is_admitted_until_its_waiver_expires``:
    the waiver ``serving-fraud-scorer-*deployment`` (Pulumi names) covers the Deployments
    ``fraud-scorer`` and ``fraud-scorer-canary`` (their ``metadata.name``), and expires by the API
    server's request time."""
    from tests.admission import test_out_of_band

    assert test_out_of_band.WAIVED == "serving-fraud-scorer-*deployment"
    assert callable(test_out_of_band.test_a_waived_object_is_admitted_until_its_waiver_expires)


def test_every_difference_is_asserted() -> None:
    assert set(ASSERTED) == DIFFERENCE_IDS
