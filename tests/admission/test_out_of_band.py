"""Out of band, refused: with prod's objects applied and its admission policies installed, a direct write
that breaks a mandatory rule is refused with the rule's message; a waived one is admitted until its
waiver expires; an advisory one is admitted with a warning.

The environment is the bundled prod in a namespace of its own (``oob-prod``), with a project around it
whose policy config makes ``resource-app-labels`` advisory in prod (``environments/prod.json``) and
whose waivers exempt the fraud scorer's Deployments from ``workload-read-only-root-filesystem`` for 60
more days, and the recommender's since yesterday (expired). The policies are rendered and installed by
the library functions ``mlops up --admission`` calls.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform import vocabulary as L
from mlops_platform.policies.admission import ENVIRONMENT_LABEL
from mlops_platform.tools.admission import EnvironmentAdmission, environment_admission, install, uninstall
from mlops_platform.tools.cluster_prereqs import api_client
from mlops_platform.tools.local_cluster import LocalCluster
from mlops_platform.tools.project import Project
from tests.admission.apiserver import ApiServer, Verdict
from tests.admission.equivalence import failed, pack_verdicts, to_object, without_secrets

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("admission")]

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "oob-prod"
WAIVED, EXPIRED = "serving-fraud-scorer-*deployment", "serving-recommender-deployment"
RULE = "workload-read-only-root-filesystem"


@dataclass
class Prod:
    api: ApiServer
    admission: EnvironmentAdmission
    objects: dict[str, dict[str, Any]]
    """Pulumi resource name -> the object applied."""
    config: dict[str, Any]

    def deployment(self, resource: str) -> dict[str, Any]:
        found = self.api.get(self.objects[resource])
        assert found is not None, resource
        return found


def _project(tmp: Path) -> Project:
    repo = Project.load(REPO)
    config = tmp / "policies" / "config"
    shutil.copytree(REPO / "policies" / "config" / "tiers", config / "tiers")
    (config / "environments").mkdir()
    (config / "environments" / "prod.json").write_text(json.dumps({"resource-app-labels": "advisory"}))
    return Project(tmp, repo.name, "python", repo.program, tmp)


def _waivers(tmp: Path) -> Path:
    def entry(selector: str, expires: date) -> dict[str, Any]:
        return {
            "policy": RULE,
            "selector": selector,
            "environment": "prod",
            "reason": "The model server unpacks its model into the image's own directory at start.",
            "owner": "ml-platform@acme.example",
            "approval_ref": "CHG-2026-0042",
            "expires": expires.isoformat(),
        }

    today = datetime.now(UTC).date()  # the policies end a waiver at 00:00 UTC after its expiry day
    path = tmp / "waivers.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "waivers": [
                    entry(WAIVED, today + timedelta(days=60)),
                    entry(EXPIRED, today - timedelta(days=1)),
                ]
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def prod(
    control_plane: LocalCluster, api: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prod]:
    from mlops_platform.tools.engine.audit import capture_environment
    from mlops_platform.tools.policy_config import load_policy_config

    tmp = tmp_path_factory.mktemp("oob")
    project = _project(tmp)
    spec = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())
    spec["config"]["mlops-platform:environment"]["namespace"] = NAMESPACE
    env_file = tmp / "Pulumi.prod.yaml"
    env_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    objects: dict[str, dict[str, Any]] = {}
    for resource in capture_environment(env_file, project=project).resources:
        if resource.type.startswith("kubernetes:") and resource.custom and ":providers:" not in resource.type:
            objects[resource.name] = to_object(
                resource.type, without_secrets(resource.inputs), name=resource.name, namespace=None
            )
    # `up`: the environment's objects, its Namespace first; then its admission policies.
    for obj in sorted(objects.values(), key=lambda o: o["kind"] != "Namespace"):
        api.apply(obj)
    admission = environment_admission(env_file, project, _waivers(tmp))
    assert {w.names for w in admission.waivers} == {
        ("serving-fraud-scorer", "serving-fraud-scorer-canary"),  # Pulumi names end in -deployment
        ("serving-recommender",),
    }
    applied, deleted = install(api_client(str(control_plane.kubeconfig)), admission)
    assert len(applied) == 2 * len(admission.rendered.policies) and deleted == []
    config = load_policy_config(project.policy_config_dir, "prod", "prod").document
    assert config is not None
    state = Prod(api, admission, objects, config)
    _wait_until_refused(state)
    yield state


def _wait_until_refused(prod: Prod) -> None:
    probe = _break(prod.deployment("serving-churn-predictor-deployment"), privileged=True)
    deadline = time.monotonic() + 30
    while True:
        verdict = prod.api.create(_fresh(probe, "probe"))
        assert verdict is not None
        if verdict.denied is not None or time.monotonic() > deadline:
            return
        time.sleep(0.3)


def _judged(prod: Prod, obj: dict[str, Any], timeout_s: float = 30.0) -> Verdict | None:
    """The verdict on creating ``obj`` (dry run) once a policy speaks: the API server loads each
    policy and binding on its own (an informer), so under load one may judge a while after another."""
    deadline = time.monotonic() + timeout_s
    verdict = prod.api.create(obj)
    while verdict is not None and verdict.admitted and not verdict.warned and time.monotonic() < deadline:
        time.sleep(0.3)
        verdict = prod.api.create(obj)
    return verdict


def _fresh(obj: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    metadata = out["metadata"]
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        metadata.pop(key, None)
    metadata["name"] = name
    out.pop("status", None)
    return out


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


def _break(
    obj: dict[str, Any], *, privileged: bool = False, writable: bool = False, image: str | None = None
) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for container in _containers(out):
        sc = container.setdefault("securityContext", {})
        if privileged:
            sc["privileged"] = True
            sc.pop("allowPrivilegeEscalation")  # the API server refuses privileged with it false
        if writable:
            sc["readOnlyRootFilesystem"] = False
        if image is not None:
            container["image"] = image
    return out


def _expect_denied(prod: Prod, verdict: Verdict | None, obj: dict[str, Any]) -> str:
    """The verdict is a denial by one of the rules the packs fail on ``obj``, with the packs' message."""
    assert verdict is not None and verdict.denied is not None, verdict
    expected = failed(pack_verdicts(obj, prod.config))
    rule = verdict.denied[0].removeprefix("mlops.prod.")
    assert rule in expected, (verdict.denied, expected)
    assert verdict.denied[1] == expected[rule]
    assert verdict.status == 403 and rule in verdict.error
    return rule


def test_the_environments_own_objects_pass_its_policies(prod: Prod) -> None:
    for name, obj in prod.objects.items():
        held = prod.api.get(obj)
        assert held is not None, name
        verdict = prod.api.update(held)  # the same object again: an UPDATE judged by every policy
        assert verdict.admitted and not verdict.warned, (name, verdict)


def test_an_unpinned_image_is_refused_with_the_rules_message(prod: Prod) -> None:
    stable = prod.deployment("serving-churn-predictor-deployment")
    obj = _fresh(_break(stable, image="ghcr.io/acme-ml/churn-predictor:2.0.0"), "oob-unpinned")
    assert _expect_denied(prod, _judged(prod, obj), obj) == "image-digest-pinned"


def test_a_privileged_container_is_refused(prod: Prod) -> None:
    obj = _fresh(
        _break(prod.deployment("serving-churn-predictor-deployment"), privileged=True), "oob-privileged"
    )
    assert _expect_denied(prod, _judged(prod, obj), obj) in {
        "workload-no-privileged",
        "workload-no-privilege-escalation",
    }


def test_a_model_without_its_governance_labels_is_refused(prod: Prod) -> None:
    obj = _fresh(prod.deployment("serving-churn-predictor-deployment"), "oob-ungoverned")
    for labels in (obj["metadata"]["labels"], obj["spec"]["template"]["metadata"]["labels"]):
        for key in (L.RISK_TIER, L.DATA_CLASSIFICATION):
            labels.pop(key)
    assert _expect_denied(prod, _judged(prod, obj), obj) == "model-serving-labels"


def test_a_waived_object_is_admitted_until_its_waiver_expires(prod: Prod) -> None:
    # Waived (60 more days): an update of the stable Deployment, and the canary created anew.
    stable = _break(prod.deployment("serving-fraud-scorer-deployment"), writable=True)
    updated = prod.api.update(stable)
    assert updated.admitted and not updated.warned, updated
    canary = prod.objects["serving-fraud-scorer-canary-deployment"]
    assert prod.api.delete(canary) == 200
    created = prod.api.create(_fresh(_break(canary, writable=True), canary["metadata"]["name"]))
    assert created is not None and created.admitted and not created.warned, created
    assert failed(pack_verdicts(stable, prod.config)).keys() == {RULE}  # the packs see the violation
    # Expired yesterday: the same change to the recommender is refused, on update and on create.
    recommender = _break(prod.deployment("serving-recommender-deployment"), writable=True)
    assert _expect_denied(prod, prod.api.update(recommender), recommender) == RULE
    assert prod.api.delete(recommender) == 200
    fresh = _fresh(recommender, recommender["metadata"]["name"])
    assert _expect_denied(prod, prod.api.create(fresh), fresh) == RULE
    # Not waived at all: refused.
    other = _fresh(
        _break(prod.deployment("serving-churn-predictor-deployment"), writable=True), "oob-writable"
    )
    assert _expect_denied(prod, _judged(prod, other), other) == RULE


def test_an_advisory_violation_is_admitted_with_a_warning(prod: Prod) -> None:
    ownership = {
        L.OWNER: "ml-platform_acme.example",
        L.TEAM: "ml-platform",
        L.COST_CENTRE: "cc-4711",
        L.ENVIRONMENT: "prod",
    }
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "oob-hotfix", "namespace": NAMESPACE, "labels": ownership},
        "data": {"LOG_LEVEL": "debug"},
    }
    verdict = _judged(prod, obj)
    assert verdict is not None and verdict.admitted, verdict
    expected = failed(pack_verdicts(obj, prod.config))
    assert set(expected) == {"resource-app-labels"}
    assert verdict.warned == {"mlops.prod.resource-app-labels": expected["resource-app-labels"]}
    assert any(
        w.startswith("Validation failed for ValidatingAdmissionPolicy 'mlops.prod.resource-app-labels'")
        for w in verdict.warnings
    )


def test_destroy_removes_the_environments_admission_objects_and_only_them(
    prod: Prod, control_plane: LocalCluster
) -> None:
    """Last in the file: what ``mlops destroy`` does after the engine's destroy (``uninstall``)."""
    rendered = prod.admission.rendered
    other = copy.deepcopy(rendered.policies[0])  # another environment's policy, left alone
    other["metadata"]["name"] = "mlops.staging.kept"
    other["metadata"]["labels"][ENVIRONMENT_LABEL] = "staging"
    prod.api.apply(other)
    deleted = uninstall(api_client(str(control_plane.kubeconfig)), "prod")
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in (*rendered.bindings, *rendered.policies)]
    assert sorted(deleted) == sorted(names)
    assert prod.api.get(other) is not None
    assert all(prod.api.get(o) is None for o in (*rendered.bindings, *rendered.policies))
    assert prod.api.delete(other) == 200
    # Nothing guards the namespace any more: the unpinned image is admitted (once the server's
    # policy cache has dropped the policies).
    stable = prod.deployment("serving-churn-predictor-deployment")
    obj = _fresh(_break(stable, image="ghcr.io/acme-ml/churn-predictor:2.0.0"), "oob-after-destroy")
    deadline = time.monotonic() + 30
    verdict = prod.api.create(obj)
    while verdict is not None and not verdict.admitted and time.monotonic() < deadline:
        time.sleep(0.3)
        verdict = prod.api.create(obj)
    assert verdict is not None and verdict.admitted, verdict
    assert uninstall(api_client(str(control_plane.kubeconfig)), "prod") == []
