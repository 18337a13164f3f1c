"""Docker serving: one model endpoint (stable container, optional canary and nginx traffic split).

Host names derive from the model name only (``model-<name>``), so adding, removing or re-ordering
models never touches another model's containers. Without a canary the stable container answers at
``model-<name>``; with one, a small unprivileged nginx owns that name and splits traffic by weight.
Prometheus scrapes the stable and canary containers directly (``model-<name>-stable`` / ``-canary``).
"""

from __future__ import annotations

import pulumi

from mlops_platform import vocabulary as L
from mlops_platform.components import metadata
from mlops_platform.components.args import (
    ComputeResources,
    ModelEndpointArgs,
    ModelEndpointOutputs,
    ModelSpec,
    Ownership,
    ScrapeTarget,
    Track,
)
from mlops_platform.components.docker._common import (
    ContainerSpec,
    env,
    hardened_container,
    healthcheck,
    http_check,
    remote_image,
)
from mlops_platform.components.rendering import render_nginx_canary

# nginx-unprivileged listens on 8080 as uid 101 and keeps its pid/temp files in /tmp.
SPLIT_IMAGE = "docker.io/nginxinc/nginx-unprivileged:1.27.2-alpine"
SPLIT_USER = "101:101"
SPLIT_RESOURCES = ComputeResources(
    cpu_request_millicores=50, memory_request_mib=32, cpu_limit_millicores=250, memory_limit_mib=64
)
MODEL_USER = "1000:1000"


def host(model: str, role: str | None = None) -> str:
    """Network alias of a model's container: ``model-<name>`` or ``model-<name>-<role>``."""
    return f"model-{model}" if role is None else f"model-{model}-{role}"


def _labels(own: Ownership, model: ModelSpec, instance: str, track: Track) -> dict[str, str]:
    """On Docker, the model's annotations are container labels too (contract)."""
    return {
        **metadata.model_labels(own, model, instance=instance, track=track),
        **metadata.model_annotations(model, track=track),
    }


def _server(
    component: pulumi.ComponentResource,
    resource_name: str,
    args: ModelEndpointArgs,
    track: Track,
    aliases: str,
    publish: bool,
) -> None:
    model = args.model
    canary = model.canary if track is Track.CANARY else None
    image = canary.image if canary and canary.image else model.image
    image_resource = f"{resource_name}-image"
    network = pulumi.Output.from_input(args.namespace)
    hardened_container(
        resource_name,
        pulumi.Output.concat(network, "-", aliases),
        ContainerSpec(
            image=remote_image(image_resource, image, component).name,
            network=network,
            hostname=aliases,
            labels=_labels(args.ownership, model, resource_name, track),
            resources=model.resources,
            # Serving images are the organisation's own; they must run as any non-root uid (HOME=/tmp).
            user=MODEL_USER,
            envs=[
                env("HOME", "/tmp"),
                env("PORT", str(model.port)),
                env("MODEL_NAME", model.name),
                env("MODEL_URI", canary.model_uri if canary else model.model_uri),
                env("MODEL_TRACK", track.value),
                pulumi.Output.concat("MLFLOW_TRACKING_URI=", args.registry_uri),
            ],
            health=healthcheck(
                http_check(f"http://127.0.0.1:{model.port}{model.health_path}", tool="python"),
                start_period="60s",
            ),
            ports=[(model.port, None)] if publish else [],
        ),
        pulumi.ResourceOptions(parent=component),
    )


def build(component: pulumi.ComponentResource, name: str, args: ModelEndpointArgs) -> ModelEndpointOutputs:
    """Create one model endpoint's Docker resources under ``component`` (named ``name``)."""
    model = args.model
    canary = model.canary
    stable_host = host(model.name, "stable") if canary else host(model.name)
    _server(component, f"{name}-stable", args, Track.STABLE, stable_host, publish=canary is None)
    canary_host = None
    if canary is not None:
        canary_host = host(model.name, "canary")
        _server(component, f"{name}-canary", args, Track.CANARY, canary_host, publish=False)
        network = pulumi.Output.from_input(args.namespace)
        split_name = f"{name}-split"
        split_labels = {
            **metadata.common_labels(
                args.ownership,
                app=model.name,
                instance=split_name,
                component="traffic-split",
                version=metadata.image_version(SPLIT_IMAGE),
            ),
            L.MODEL: metadata.label_value(model.name),
        }
        hardened_container(
            split_name,
            pulumi.Output.concat(network, "-", host(model.name, "split")),
            ContainerSpec(
                image=remote_image(f"{split_name}-image", SPLIT_IMAGE, component).name,
                network=network,
                hostname=host(model.name),
                labels=split_labels,
                resources=SPLIT_RESOURCES,
                user=SPLIT_USER,
                health=healthcheck(http_check(f"http://127.0.0.1:{model.port}/nginx-health")),
                ports=[(model.port, None)],
                uploads={
                    "/etc/nginx/conf.d/default.conf": render_nginx_canary(
                        model.name,
                        f"{stable_host}:{model.port}",
                        f"{canary_host}:{model.port}",
                        canary.weight_percent,
                        model.port,
                    )
                },
            ),
            pulumi.ResourceOptions(parent=component),
        )

    return ModelEndpointOutputs(
        url=pulumi.Output.from_input(args.namespace).apply(
            lambda _: f"http://{host(model.name)}:{model.port}"
        ),
        scrape_target=ScrapeTarget(
            model=model.name,
            host=stable_host,
            port=model.port,
            slo=model.slo,
            metrics_path=model.metrics_path,
            drift=model.drift,
            image=model.image,
            canary_host=canary_host,
        ),
    )
