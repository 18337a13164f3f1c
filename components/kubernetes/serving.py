"""One model endpoint on Kubernetes: Deployment(s), Services, HPA, PDB, NetworkPolicy, canary HTTPRoute.

Object names derive from the endpoint's name only (``<name>``, ``<name>-canary``), never from the
model's position, so editing one model never touches another's resources. With a canary, a Gateway API
``HTTPRoute`` attached to the stable Service (GAMMA, mesh east-west routing) splits requests between the
stable and canary Services by weight; without a mesh implementing GAMMA it is inert and the stable
Service takes all traffic.
"""

from __future__ import annotations

import math

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform import vocabulary as L
from mlops_platform.components import metadata as md
from mlops_platform.components.args import (
    ModelEndpointArgs,
    ModelEndpointOutputs,
    ModelSpec,
    ScrapeTarget,
    Track,
)
from mlops_platform.components.kubernetes import workload as w

MODEL_SERVER_USER = 1000
HTTP_PORT_NAME = "http"


def canary_replicas(model: ModelSpec) -> int:
    """Canary replicas: its weight's share of the stable minimum, but HA (>= 2) whenever the stable is."""
    assert model.canary is not None
    share = math.ceil(model.replicas_min * model.canary.weight_percent / 100)
    return 1 if model.replicas_min == 1 else max(2, share)


def _deployment(
    component: pulumi.Resource, name: str, args: ModelEndpointArgs, track: Track
) -> tuple[k8s.apps.v1.Deployment, dict[str, str]]:
    model = args.model
    canary = track is Track.CANARY
    assert not canary or model.canary is not None
    object_name = f"{name}-canary" if canary else name
    labels = md.model_labels(args.ownership, model, instance=object_name, track=track)
    annotations = md.model_annotations(model, track=track)
    selector = md.selector_labels(model.name, object_name)
    image = (model.canary.image or model.image) if canary and model.canary else model.image
    if canary and model.canary:
        model_uri = md.mlflow_model_uri(model.canary.model_uri, model.canary.model_source)
    else:
        model_uri = md.mlflow_model_uri(model.model_uri, model.model_source)
    server = w.container(
        "model-server",
        image,
        compute=model.resources,
        ports={HTTP_PORT_NAME: model.port},
        env_vars=[
            w.env("MLFLOW_TRACKING_URI", args.registry_uri),
            w.env("MODEL_URI", model_uri),
            w.env("MODEL_NAME", model.name),
            w.env("PORT", str(model.port)),
            w.env("HOME", "/tmp"),
        ],
        probes=(
            w.http_probe(model.health_path, HTTP_PORT_NAME, initial_delay_seconds=30),
            w.http_probe(model.health_path, HTTP_PORT_NAME, initial_delay_seconds=5),
        ),
    )
    replicas = canary_replicas(model) if canary else model.replicas_min
    deployment = k8s.apps.v1.Deployment(
        f"{name}-canary-deployment" if canary else f"{name}-deployment",
        metadata=w.metadata(object_name, args.namespace, labels, annotations),
        spec={
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "selector": {"matchLabels": selector},
            "template": w.pod_template(
                labels, w.pod_spec([server], run_as_user=MODEL_SERVER_USER), annotations
            ),
        },
        opts=w.child(component),
    )
    service = k8s.core.v1.Service(
        f"{name}-canary-service" if canary else f"{name}-service",
        metadata=w.metadata(object_name, args.namespace, labels),
        spec=w.service_spec(selector, {HTTP_PORT_NAME: model.port}),
        opts=w.child(component),
    )
    del service  # referenced by name (the HTTPRoute, the ServiceMonitor's label selector)
    return deployment, labels


def build(component: pulumi.Resource, name: str, args: ModelEndpointArgs) -> ModelEndpointOutputs:
    model, ns = args.model, args.namespace
    stable, labels = _deployment(component, name, args, Track.STABLE)
    # Policies, PDB and route cover the model as a whole (both tracks): label them without a track.
    model_labels = {k: v for k, v in labels.items() if k != L.TRACK}
    model_selector = {L.MODEL: md.label_value(model.name), L.APP_COMPONENT: L.COMPONENT_MODEL_SERVER}

    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{name}-hpa",
        metadata=w.metadata(name, ns, labels),
        spec={
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": stable.metadata.apply(lambda m: m.name),
            },
            "minReplicas": model.replicas_min,
            "maxReplicas": model.replicas_max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": model.target_cpu_utilization_percent,
                        },
                    },
                }
            ],
        },
        opts=w.child(component),
    )
    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-pdb",
        metadata=w.metadata(name, ns, model_labels),
        spec={"maxUnavailable": 1, "selector": {"matchLabels": model_selector}},
        opts=w.child(component),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-ingress",
        metadata=w.metadata(f"{name}-ingress", ns, model_labels),
        # Callers (gateways) and cluster monitoring live in other namespaces: admit the model port only.
        spec=w.ingress_policy_spec(model_selector, [model.port], any_namespace=True),
        opts=w.child(component),
    )
    if model.canary is not None:
        _deployment(component, name, args, Track.CANARY)
        weight = model.canary.weight_percent
        k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata=w.metadata(name, ns, model_labels),
            spec={
                "parentRefs": [{"group": "", "kind": "Service", "name": name, "port": model.port}],
                "rules": [
                    {
                        "backendRefs": [
                            {"name": name, "port": model.port, "weight": 100 - weight},
                            {"name": f"{name}-canary", "port": model.port, "weight": weight},
                        ]
                    }
                ],
            },
            opts=w.child(component),
        )
    url = pulumi.Output.concat("http://", name, ".", ns, ".svc.cluster.local:", str(model.port))
    scrape = ScrapeTarget(
        model=model.name,
        host=name,
        port=model.port,
        slo=model.slo,
        metrics_path=model.metrics_path,
        drift=model.drift,
        selector=model_selector,
        image=model.image,
    )
    return ModelEndpointOutputs(url=url, scrape_target=scrape)
