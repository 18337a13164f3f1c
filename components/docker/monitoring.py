"""Docker monitoring: Prometheus, Alertmanager and Grafana, configured entirely from rendered files.

Prometheus scrapes every endpoint as the job ``model-<model>`` (static targets on the platform
network) and loads one alert group ``model-<model>`` per model from ``/etc/prometheus/rules/models.yml``.
Alertmanager's config is a secret upload when a receiver has a webhook URL. Grafana is provisioned
with the Prometheus datasource and one dashboard per model. Without ``grafana_image`` there is no
Grafana container, and no dashboard either: Docker has nothing a central Grafana could discover them
by (Kubernetes ships them as sidecar ConfigMaps), and files nobody loads would only look provisioned.
A model with drift checks gets a scheduled container running ``python -m mlops_platform.drift`` in the
platform's drift image, which pushes to the layer's Pushgateway; Prometheus scrapes that as the job
``pushgateway`` with ``honor_labels``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_docker as docker

from mlops_platform import vocabulary as L
from mlops_platform.components import metadata
from mlops_platform.components.args import (
    ComputeResources,
    MonitoringArgs,
    MonitoringOutputs,
    Ownership,
    ScrapeTarget,
)
from mlops_platform.components.credentials import password
from mlops_platform.components.docker._common import (
    ContainerSpec,
    env,
    hardened_container,
    healthcheck,
    http_check,
    remote_image,
    secret_env,
    volume_labels,
)
from mlops_platform.components.docker.jobs import scheduled_job
from mlops_platform.components.rendering import (
    ALERTMANAGER_PORT,
    DASHBOARDS_PATH,
    GRAFANA_PORT,
    PROMETHEUS_PORT,
    PUSHGATEWAY_PORT,
    RULES_PATH,
    alertmanager_config,
    dashboard_file_name,
    render_alert_rules,
    render_grafana_dashboard,
    render_grafana_dashboard_provider,
    render_grafana_datasource,
    render_prometheus_config,
)

PROMETHEUS_HOST = "prometheus"
ALERTMANAGER_HOST = "alertmanager"
GRAFANA_HOST = "grafana"
PUSHGATEWAY_HOST = "pushgateway"
DRIFT_COMMAND = ["python", "-m", "mlops_platform.drift"]  # the platform runtime image's module
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"
NOBODY = "65534:65534"  # prom/prometheus and prom/alertmanager run as nobody; their data dirs are theirs
GRAFANA_USER = "472:0"
DRIFT_USER = "1000:1000"
PROMETHEUS_RESOURCES = ComputeResources(
    cpu_request_millicores=250, memory_request_mib=512, cpu_limit_millicores=1000, memory_limit_mib=1024
)
SMALL_RESOURCES = ComputeResources(
    cpu_request_millicores=100, memory_request_mib=128, cpu_limit_millicores=500, memory_limit_mib=256
)


def _labels(own: Ownership, app: str, instance: str, image: str) -> dict[str, str]:
    return metadata.common_labels(
        own,
        app=app,
        instance=instance,
        component=L.COMPONENT_MONITORING,
        version=metadata.image_version(image),
    )


def rendered_with_hosts(
    targets: list[ScrapeTarget], render: Callable[[list[ScrapeTarget]], str]
) -> pulumi.Input[str]:
    """``render(targets)``; when a host is an Output (another stack's), inside ``apply`` (no resource)."""
    if all(isinstance(t.host, str) and isinstance(t.canary_host, str | None) for t in targets):
        return render(targets)

    def known(hosts: list[Any]) -> str:
        pairs = zip(hosts[0::2], hosts[1::2], strict=True)
        return render(
            [dataclasses.replace(t, host=h, canary_host=c) for t, (h, c) in zip(targets, pairs, strict=True)]
        )

    return pulumi.Output.all(*[x for t in targets for x in (t.host, t.canary_host)]).apply(known)


def build(component: pulumi.ComponentResource, name: str, args: MonitoringArgs) -> MonitoringOutputs:
    """Create the monitoring layer's Docker resources under ``component``."""
    own = args.ownership
    child = pulumi.ResourceOptions(parent=component)
    network = pulumi.Output.from_input(args.namespace)
    targets = sorted(args.scrape_targets, key=lambda t: t.model)

    def data_volume(role: str, labels: dict[str, str]) -> docker.Volume:
        return docker.Volume(
            f"{name}-{role}",
            name=pulumi.Output.concat(network, f"-{role}"),
            labels=volume_labels(labels),
            opts=child,
        )

    # --- Alertmanager --------------------------------------------------------------------------
    am_labels = _labels(own, "alertmanager", f"{name}-alertmanager", args.alertmanager_image)
    alertmanager = hardened_container(
        f"{name}-alertmanager",
        pulumi.Output.concat(network, f"-{ALERTMANAGER_HOST}"),
        ContainerSpec(
            image=remote_image(f"{name}-alertmanager-image", args.alertmanager_image, component).name,
            network=network,
            hostname=ALERTMANAGER_HOST,
            labels=am_labels,
            resources=SMALL_RESOURCES,
            user=NOBODY,
            command=[
                f"--config.file={ALERTMANAGER_CONFIG}",
                "--storage.path=/alertmanager",
                "--cluster.listen-address=",  # a single instance: no gossip port
            ],
            health=healthcheck(http_check(f"http://127.0.0.1:{ALERTMANAGER_PORT}/-/healthy")),
            ports=[(ALERTMANAGER_PORT, ALERTMANAGER_PORT)],
            volumes={
                "/alertmanager": data_volume("alertmanager-data", am_labels).name,
            },
            uploads={ALERTMANAGER_CONFIG: alertmanager_config(args.receivers)},
        ),
        child,
    )

    # --- Pushgateway: the drift jobs' figures --------------------------------------------------
    push_labels = _labels(own, "pushgateway", f"{name}-pushgateway", args.pushgateway_image)
    pushgateway = hardened_container(
        f"{name}-pushgateway",
        pulumi.Output.concat(network, f"-{PUSHGATEWAY_HOST}"),
        ContainerSpec(
            image=remote_image(f"{name}-pushgateway-image", args.pushgateway_image, component).name,
            network=network,
            hostname=PUSHGATEWAY_HOST,
            labels=push_labels,
            resources=SMALL_RESOURCES,
            user=NOBODY,
            health=healthcheck(http_check(f"http://127.0.0.1:{PUSHGATEWAY_PORT}/-/healthy")),
            ports=[(PUSHGATEWAY_PORT, PUSHGATEWAY_PORT)],
        ),
        child,
    )

    # --- Prometheus ----------------------------------------------------------------------------
    prom_labels = _labels(own, "prometheus", f"{name}-prometheus", args.prometheus_image)

    def prometheus_config(known: list[ScrapeTarget]) -> str:
        return render_prometheus_config(
            known,
            args.scrape_interval_seconds,
            [RULES_PATH],
            f"{ALERTMANAGER_HOST}:{ALERTMANAGER_PORT}",
            external_labels={"environment": own.environment},
            pushgateway=f"{PUSHGATEWAY_HOST}:{PUSHGATEWAY_PORT}",
        )

    prometheus_yml = rendered_with_hosts(targets, prometheus_config)
    prometheus = hardened_container(
        f"{name}-prometheus",
        pulumi.Output.concat(network, f"-{PROMETHEUS_HOST}"),
        ContainerSpec(
            image=remote_image(f"{name}-prometheus-image", args.prometheus_image, component).name,
            network=network,
            hostname=PROMETHEUS_HOST,
            labels=prom_labels,
            resources=PROMETHEUS_RESOURCES,
            user=NOBODY,
            command=[
                f"--config.file={PROMETHEUS_CONFIG}",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={args.retention_days}d",
                f"--storage.tsdb.retention.size={args.prometheus_size_gib}GB",
            ],
            health=healthcheck(http_check(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/healthy")),
            ports=[(PROMETHEUS_PORT, PROMETHEUS_PORT)],
            volumes={
                "/prometheus": data_volume("prometheus-data", prom_labels).name,
            },
            uploads={PROMETHEUS_CONFIG: prometheus_yml, RULES_PATH: render_alert_rules(targets)},
        ),
        pulumi.ResourceOptions(parent=component, depends_on=[alertmanager, pushgateway]),
    )

    # --- Grafana: only with an image; without, no dashboards either ---------------------------
    dashboards: list[str] = []
    admin_password: pulumi.Output[str] | None = None
    grafana_url: pulumi.Output[str] | None = None
    if args.grafana_image is not None:
        dashboards = [t.model for t in targets] if args.dashboards else []
        grafana, admin_password = _grafana(
            component, name, args, args.grafana_image, network, targets, prometheus
        )
        grafana_url = _url(grafana, GRAFANA_HOST, GRAFANA_PORT)

    # --- drift checks: a scheduled container job per model with drift on -----------------------
    for target in targets:
        if target.drift is None:
            continue
        assert args.drift_store is not None  # check_monitoring
        store = args.drift_store
        image = args.drift_image or target.image
        if image is None:
            raise ValueError(
                f"drift check of {target.model!r} needs an image: set drift_image or the target's image"
            )
        drift_name = f"{name}-{target.model}-drift"
        host = f"model-{target.model}-drift"
        envs: list[pulumi.Input[str]] = [
            env("HOME", "/tmp"),
            env("MODEL_NAME", target.model),
            env("PSI_THRESHOLD", repr(target.drift.psi_threshold)),
            env("FEATURE_SHARE_THRESHOLD", repr(target.drift.feature_share_threshold)),
            pulumi.Output.concat("AWS_ENDPOINT_URL=", store.endpoint),
            secret_env("AWS_ACCESS_KEY_ID", store.access_key),
            secret_env("AWS_SECRET_ACCESS_KEY", store.secret_key),
            env("DRIFT_BUCKET", store.bucket),
            env("DRIFT_PREFIX", store.prefix),
            env("PUSHGATEWAY_URL", f"http://{PUSHGATEWAY_HOST}:{PUSHGATEWAY_PORT}"),
        ]
        scheduled_job(
            drift_name,
            container_name=pulumi.Output.concat(network, f"-{host}"),
            schedule=target.drift.schedule,
            command=DRIFT_COMMAND,
            image=remote_image(f"{drift_name}-image", image, component).name,
            network=network,
            hostname=host,
            labels={
                **metadata.common_labels(
                    own, app=target.model, instance=drift_name, component=L.COMPONENT_DRIFT_CHECK
                ),
                L.MODEL: metadata.label_value(target.model),
                L.DRIFT_CHECK: "enabled",
            },
            user=DRIFT_USER,
            envs=envs,
            opts=pulumi.ResourceOptions(parent=component, depends_on=[pushgateway]),
        )

    return MonitoringOutputs(
        prometheus_url=_url(prometheus, PROMETHEUS_HOST, PROMETHEUS_PORT),
        alertmanager_url=_url(alertmanager, ALERTMANAGER_HOST, ALERTMANAGER_PORT),
        grafana_url=grafana_url,
        pushgateway_url=_url(pushgateway, PUSHGATEWAY_HOST, PUSHGATEWAY_PORT),
        grafana_admin_password=admin_password,
        dashboards=dashboards,
    )


def _url(container: docker.Container, default_host: str, port: int) -> pulumi.Output[str]:
    return container.hostname.apply(lambda h: f"http://{h or default_host}:{port}")


def _grafana(
    component: pulumi.ComponentResource,
    name: str,
    args: MonitoringArgs,
    image: str,
    network: pulumi.Output[str],
    targets: list[ScrapeTarget],
    prometheus: docker.Container,
) -> tuple[docker.Container, pulumi.Output[str]]:
    """Grafana provisioned with the Prometheus datasource and (``dashboards``) one dashboard per model;
    the container and its admin password (secret)."""
    grafana_labels = _labels(args.ownership, "grafana", f"{name}-grafana", image)
    admin_password = password(args.credentials, f"{name}-grafana-admin-password")
    uploads: dict[str, pulumi.Input[str]] = {
        "/etc/grafana/provisioning/datasources/prometheus.yml": render_grafana_datasource(
            f"http://{PROMETHEUS_HOST}:{PROMETHEUS_PORT}", args.scrape_interval_seconds
        ),
    }
    if args.dashboards and targets:
        uploads["/etc/grafana/provisioning/dashboards/models.yml"] = render_grafana_dashboard_provider()
        for target in targets:
            uploads[f"{DASHBOARDS_PATH}/{dashboard_file_name(target.model)}"] = render_grafana_dashboard(
                target
            )
    data = docker.Volume(
        f"{name}-grafana-data",
        name=pulumi.Output.concat(network, "-grafana-data"),
        labels=volume_labels(grafana_labels),
        opts=pulumi.ResourceOptions(parent=component),
    )
    grafana = hardened_container(
        f"{name}-grafana",
        pulumi.Output.concat(network, f"-{GRAFANA_HOST}"),
        ContainerSpec(
            image=remote_image(f"{name}-grafana-image", image, component).name,
            network=network,
            hostname=GRAFANA_HOST,
            labels=grafana_labels,
            resources=SMALL_RESOURCES,
            user=GRAFANA_USER,
            envs=[
                env("GF_SECURITY_ADMIN_USER", "admin"),
                secret_env("GF_SECURITY_ADMIN_PASSWORD", admin_password.result),
                env("GF_USERS_ALLOW_SIGN_UP", "false"),
                env("GF_AUTH_ANONYMOUS_ENABLED", "false"),
                env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
                env("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
                env("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
                env("GF_LOG_MODE", "console"),  # no log files: stdout is collected by Docker
            ],
            health=healthcheck(http_check(f"http://127.0.0.1:{GRAFANA_PORT}/api/health")),
            ports=[(GRAFANA_PORT, GRAFANA_PORT)],
            volumes={"/var/lib/grafana": data.name},
            uploads=uploads,
        ),
        pulumi.ResourceOptions(parent=component, depends_on=[prometheus]),
    )
    return grafana, pulumi.Output.secret(admin_password.result)
