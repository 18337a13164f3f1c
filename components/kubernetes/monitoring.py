"""Monitoring layer on Kubernetes, as Prometheus Operator objects plus Grafana.

Needs the Prometheus Operator CRDs (``monitoring.coreos.com/v1``) in the cluster. Per model: a
``ServiceMonitor`` (selecting both tracks' Services by model label, adding ``model`` and ``track``
labels to the series), a ``PrometheusRule`` holding the group ``model-<model>`` rendered by
``mlops_platform.components.rendering``, a Grafana dashboard ConfigMap when dashboards are on,
and a drift CronJob when drift is enabled: ``python -m mlops_platform.drift`` in the platform's drift
image, reading the model's samples from the object store and pushing its figures to the layer's
Pushgateway, which Prometheus scrapes with ``honorLabels`` (the pushed ``model`` label is kept). One
``Prometheus`` and one ``Alertmanager`` instance select them; the Alertmanager configuration is a Secret
(receiver webhook URLs are secrets), and so are the drift jobs' object-store credentials.

Grafana: with ``grafana_image``, the layer's own Grafana provisioned with the Prometheus datasource and
the dashboards. Without it (a central Grafana, such as kube-prometheus-stack's), no Grafana object at
all, and each dashboard ConfigMap carries ``grafana_dashboard: "1"``, the label the Grafana chart's
dashboard sidecar loads (kube-prometheus-stack's ``grafana.sidecar.dashboards.label``/``labelValue``);
that sidecar must search the environment's namespace (``searchNamespace``). Their uid, title and file
name hold the environment's name, so environments serving the same model do not overwrite each other.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform import vocabulary as L
from mlops_platform.components import metadata as md
from mlops_platform.components import rendering
from mlops_platform.components.args import (
    PART_OF,
    ComputeResources,
    MonitoringArgs,
    MonitoringOutputs,
    ScrapeTarget,
)
from mlops_platform.components.credentials import password
from mlops_platform.components.kubernetes import workload as w

PROMETHEUS_USER = 1000
GRAFANA_USER = 472  # the grafana user of the official image
DRIFT_USER = 1000
DRIFT_COMMAND = ("python", "-m", "mlops_platform.drift")  # the platform runtime image's module
PUSHGATEWAY_USER = 65534  # nobody, as the prom/pushgateway image runs
PUSHGATEWAY_RESOURCES = ComputeResources(
    cpu_request_millicores=50, memory_request_mib=64, cpu_limit_millicores=200, memory_limit_mib=128
)
API_SERVER_PORTS = (443, 6443)  # service discovery reads the API server, outside the pod network
PROMETHEUS_SERVICE = "prometheus-operated"  # governing Service the operator creates for every instance
ALERTMANAGER_SERVICE = "alertmanager-operated"
ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"  # key the operator reads from ``configSecret``
PROVISIONING = "/etc/grafana/provisioning"
# The label the Grafana Helm chart's dashboard sidecar (k8s-sidecar) selects ConfigMaps by, with the
# value kube-prometheus-stack sets (grafana.sidecar.dashboards.label / labelValue).
SIDECAR_DASHBOARD_LABEL = "grafana_dashboard"
SIDECAR_DASHBOARD_VALUE = "1"
OPERATOR_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": PROMETHEUS_USER,
    "runAsGroup": PROMETHEUS_USER,
    "fsGroup": PROMETHEUS_USER,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _custom(
    component: pulumi.Resource, name: str, kind: str, metadata: w.Json, spec: w.Json
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version="monitoring.coreos.com/v1",
        kind=kind,
        metadata=metadata,
        spec=spec,
        opts=w.child(component),
    )


def service_monitor_spec(
    target: ScrapeTarget, scrape_interval_seconds: int, namespace: pulumi.Input[str]
) -> w.Json:
    return {
        "selector": {"matchLabels": target.selector},  # an Input: from another stack, an Output
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [
            {
                "port": "http",
                "path": target.metrics_path,
                "interval": f"{scrape_interval_seconds}s",
                "relabelings": [
                    {"action": "replace", "targetLabel": "model", "replacement": target.model},
                    {
                        "action": "replace",
                        "sourceLabels": [f"__meta_kubernetes_pod_label_{_meta_label(L.TRACK)}"],
                        "targetLabel": "track",
                    },
                ],
            }
        ],
    }


def _meta_label(key: str) -> str:
    """A label key as Prometheus' Kubernetes discovery spells it (every non-alphanumeric -> ``_``)."""
    return "".join(c if c.isalnum() else "_" for c in key)


def _prometheus(
    component: pulumi.Resource, name: str, args: MonitoringArgs
) -> k8s.apiextensions.CustomResource:
    own, ns = args.ownership, args.namespace
    prom_name = f"{name}-prometheus"
    labels = md.common_labels(
        own,
        app="prometheus",
        instance=prom_name,
        component=L.COMPONENT_MONITORING,
        version=md.image_version(args.prometheus_image),
    )
    account = k8s.core.v1.ServiceAccount(
        f"{name}-prometheus-account",
        metadata=w.metadata(prom_name, ns, labels),
        automount_service_account_token=False,  # the Prometheus CR mounts it for its own pods only
        opts=w.child(component),
    )
    role = k8s.rbac.v1.Role(
        f"{name}-prometheus-role",
        metadata=w.metadata(prom_name, ns, labels),
        rules=[
            {
                "apiGroups": [""],
                "resources": ["services", "endpoints", "pods"],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["get", "list", "watch"],
            },
        ],
        opts=w.child(component),
    )
    k8s.rbac.v1.RoleBinding(
        f"{name}-prometheus-binding",
        metadata=w.metadata(prom_name, ns, labels),
        role_ref={
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role.metadata.apply(lambda m: m.name),
        },
        subjects=[
            {"kind": "ServiceAccount", "name": account.metadata.apply(lambda m: m.name), "namespace": ns}
        ],
        opts=w.child(component),
    )
    storage: w.Json = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{args.prometheus_size_gib}Gi"}},
    }
    if args.storage_class:
        storage["storageClassName"] = args.storage_class
    platform = {L.APP_PART_OF: PART_OF}
    prometheus = _custom(
        component,
        prom_name,
        "Prometheus",
        w.metadata(prom_name, ns, labels),
        {
            "image": args.prometheus_image,
            "replicas": 1,
            "serviceAccountName": account.metadata.apply(lambda m: m.name),
            "automountServiceAccountToken": True,  # service discovery reads the API with it
            "podMetadata": {"labels": labels},
            "securityContext": OPERATOR_SECURITY_CONTEXT,
            "resources": w.resources(ComputeResources(memory_request_mib=1024, memory_limit_mib=2048)),
            "retention": f"{args.retention_days}d",
            "scrapeInterval": f"{args.scrape_interval_seconds}s",
            "evaluationInterval": f"{args.scrape_interval_seconds}s",
            "serviceMonitorSelector": {"matchLabels": platform},
            "ruleSelector": {"matchLabels": platform},
            "alerting": {"alertmanagers": [{"namespace": ns, "name": ALERTMANAGER_SERVICE, "port": "web"}]},
            "storage": {"volumeClaimTemplate": {"spec": storage}},
        },
    )
    selector = md.selector_labels("prometheus", prom_name)
    k8s.networking.v1.NetworkPolicy(
        f"{name}-prometheus-network",
        metadata=w.metadata(f"{name}-prometheus-network", ns, labels),
        spec={
            **w.ingress_policy_spec(
                selector, [rendering.PROMETHEUS_PORT], from_components=[L.COMPONENT_MONITORING]
            ),
            "policyTypes": ["Ingress", "Egress"],
            "egress": _prometheus_egress(),
        },
        opts=w.child(component),
    )
    return prometheus


def _pods_of(*components: str) -> w.Json:
    """A NetworkPolicy peer: the namespace's pods of these ``app.kubernetes.io/component`` values."""
    return {
        "podSelector": {
            "matchExpressions": [{"key": L.APP_COMPONENT, "operator": "In", "values": sorted(components)}]
        }
    }


def _prometheus_egress() -> list[w.Json]:
    """Where Prometheus may connect: the API server (service discovery, outside the pod network), the
    model servers it scrapes (any port: each model has its own), the Pushgateway and Alertmanager.
    Scrapes and alerts go to pod IPs from discovery: no DNS. No model is named, so adding or editing a
    model leaves this policy unchanged."""
    return [
        {"ports": [{"protocol": "TCP", "port": p} for p in API_SERVER_PORTS]},
        {"to": [_pods_of(L.COMPONENT_MODEL_SERVER)]},
        {
            "to": [_pods_of(L.COMPONENT_MONITORING)],
            "ports": [
                {"protocol": "TCP", "port": p}
                for p in (rendering.PUSHGATEWAY_PORT, rendering.ALERTMANAGER_PORT)
            ],
        },
    ]


def _alertmanager(component: pulumi.Resource, name: str, args: MonitoringArgs) -> None:
    own, ns = args.ownership, args.namespace
    am_name = f"{name}-alertmanager"
    labels = md.common_labels(
        own,
        app="alertmanager",
        instance=am_name,
        component=L.COMPONENT_MONITORING,
        version=md.image_version(args.alertmanager_image),
    )
    config = k8s.core.v1.Secret(
        f"{name}-alertmanager-config",
        metadata=w.metadata(f"{name}-alertmanager-config", ns, labels),
        type="Opaque",
        string_data={ALERTMANAGER_CONFIG_KEY: rendering.alertmanager_config(args.receivers)},
        opts=w.child(component),
    )
    _custom(
        component,
        am_name,
        "Alertmanager",
        w.metadata(am_name, ns, labels),
        {
            "image": args.alertmanager_image,
            "replicas": 1,
            "configSecret": config.metadata.apply(lambda m: m.name),
            "podMetadata": {"labels": labels},
            "securityContext": OPERATOR_SECURITY_CONTEXT,
            "resources": w.resources(ComputeResources()),
            "automountServiceAccountToken": False,
        },
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-alertmanager-network",
        metadata=w.metadata(f"{name}-alertmanager-network", ns, labels),
        spec={
            **w.ingress_policy_spec(
                md.selector_labels("alertmanager", am_name),
                [rendering.ALERTMANAGER_PORT],
                from_components=[L.COMPONENT_MONITORING],
            ),
            "policyTypes": ["Ingress", "Egress"],
            # Receivers: chat webhooks over HTTPS, e-mail relays over submission/SMTP.
            "egress": [{"ports": [{"protocol": "TCP", "port": p} for p in (443, 587, 25)]}],
        },
        opts=w.child(component),
    )


def _dashboards(
    component: pulumi.Resource,
    name: str,
    args: MonitoringArgs,
    labels: dict[str, str],
    environment: str | None = None,
) -> list[pulumi.Output[str]]:
    """One ConfigMap per model holding its dashboard, labelled ``labels`` and the model; their names.
    With ``environment``, dashboards made for a Grafana other environments share
    (``rendering.grafana_dashboard``)."""
    names = []
    for target in sorted(args.scrape_targets, key=lambda t: t.model):
        dashboard = k8s.core.v1.ConfigMap(
            f"{name}-dashboard-{target.model}",
            metadata=w.metadata(
                f"{name}-dashboard-{target.model}",
                args.namespace,
                {**labels, L.MODEL: md.label_value(target.model)},
            ),
            data={
                rendering.dashboard_file_name(target.model, environment): rendering.render_grafana_dashboard(
                    target, environment
                )
            },
            opts=w.child(component),
        )
        names.append(dashboard.metadata.apply(lambda m: m.name))
    return names


def _sidecar_dashboards(component: pulumi.Resource, name: str, args: MonitoringArgs) -> None:
    """Without a Grafana of the layer's own: the dashboards for a central Grafana's sidecar."""
    labels = {
        **md.common_labels(
            args.ownership,
            app="grafana-dashboards",
            instance=f"{name}-dashboards",
            component=L.COMPONENT_MONITORING,
        ),
        SIDECAR_DASHBOARD_LABEL: SIDECAR_DASHBOARD_VALUE,
    }
    # One Grafana, many environments: each one's dashboard of a model keeps its own uid, title and file.
    _dashboards(component, name, args, labels, environment=args.ownership.environment)


def _grafana(component: pulumi.Resource, name: str, args: MonitoringArgs, image: str) -> pulumi.Output[str]:
    own, ns = args.ownership, args.namespace
    app_name = f"{name}-grafana"
    labels = md.common_labels(
        own,
        app="grafana",
        instance=app_name,
        component=L.COMPONENT_MONITORING,
        version=md.image_version(image),
    )
    selector = md.selector_labels("grafana", app_name)
    admin_password = password(args.credentials, f"{name}-grafana-admin-password")
    secret = k8s.core.v1.Secret(
        f"{name}-grafana-admin",
        metadata=w.metadata(f"{name}-grafana-admin", ns, labels),
        type="Opaque",
        string_data={"password": admin_password.result},
        opts=w.child(component),
    )
    prometheus_url = f"http://{PROMETHEUS_SERVICE}:{rendering.PROMETHEUS_PORT}"
    datasources = k8s.core.v1.ConfigMap(
        f"{name}-grafana-datasources",
        metadata=w.metadata(f"{name}-grafana-datasources", ns, labels),
        data={
            "prometheus.yml": rendering.render_grafana_datasource(
                prometheus_url, args.scrape_interval_seconds
            )
        },
        opts=w.child(component),
    )
    mounts: list[w.Json] = [
        {"name": "data", "mountPath": "/var/lib/grafana"},
        {"name": "datasources", "mountPath": f"{PROVISIONING}/datasources", "readOnly": True},
    ]
    volumes: list[w.Json] = [
        {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},  # state is provisioned from code, not kept
        {"name": "datasources", "configMap": {"name": datasources.metadata.apply(lambda m: m.name)}},
    ]
    if args.dashboards:
        provider = k8s.core.v1.ConfigMap(
            f"{name}-grafana-dashboard-provider",
            metadata=w.metadata(f"{name}-grafana-dashboard-provider", ns, labels),
            data={"models.yml": rendering.render_grafana_dashboard_provider()},
            opts=w.child(component),
        )
        sources = [{"configMap": {"name": n}} for n in _dashboards(component, name, args, labels)]
        mounts += [
            {"name": "dashboard-provider", "mountPath": f"{PROVISIONING}/dashboards", "readOnly": True},
            {"name": "dashboards", "mountPath": rendering.DASHBOARDS_PATH, "readOnly": True},
        ]
        volumes += [
            {"name": "dashboard-provider", "configMap": {"name": provider.metadata.apply(lambda m: m.name)}},
            {"name": "dashboards", "projected": {"sources": sources}},
        ]
    grafana = w.container(
        "grafana",
        image,
        compute=ComputeResources(memory_request_mib=256, memory_limit_mib=512),
        ports={"http": rendering.GRAFANA_PORT},
        env_vars=[
            w.env("GF_SECURITY_ADMIN_USER", "admin"),
            w.secret_env("GF_SECURITY_ADMIN_PASSWORD", secret.metadata.apply(lambda m: m.name), "password"),
            w.env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
            w.env("GF_USERS_ALLOW_SIGN_UP", "false"),
        ],
        probes=(
            w.http_probe("/api/health", "http", initial_delay_seconds=30),
            w.http_probe("/api/health", "http"),
        ),
        volume_mounts=mounts,
    )
    w.web_app(
        component,
        prefix=f"{name}-grafana",
        app_name=app_name,
        namespace=ns,
        labels=labels,
        selector=selector,
        pod=w.pod_spec([grafana], run_as_user=GRAFANA_USER, volumes=volumes),
        port=rendering.GRAFANA_PORT,
        any_namespace=True,  # the ingress controller lives in its own namespace
    )
    return pulumi.Output.secret(admin_password.result)


def _pushgateway(component: pulumi.Resource, name: str, args: MonitoringArgs) -> pulumi.Output[str]:
    """The Pushgateway the drift jobs push to, and the ServiceMonitor that scrapes it with honorLabels."""
    own, ns = args.ownership, args.namespace
    app_name = f"{name}-pushgateway"
    labels = md.common_labels(
        own,
        app="pushgateway",
        instance=app_name,
        component=L.COMPONENT_MONITORING,
        version=md.image_version(args.pushgateway_image),
    )
    selector = md.selector_labels("pushgateway", app_name)
    gateway = w.container(
        "pushgateway",
        args.pushgateway_image,
        compute=PUSHGATEWAY_RESOURCES,
        ports={"http": rendering.PUSHGATEWAY_PORT},
        probes=(
            w.http_probe("/-/healthy", "http"),
            w.http_probe("/-/ready", "http", initial_delay_seconds=2),
        ),
    )
    w.web_app(
        component,
        prefix=app_name,
        app_name=app_name,
        namespace=ns,
        labels=labels,
        selector=selector,
        pod=w.pod_spec([gateway], run_as_user=PUSHGATEWAY_USER),
        port=rendering.PUSHGATEWAY_PORT,
        # Pushed groups live in the pod's memory: one pod, replaced rather than doubled.
        strategy={"type": "Recreate"},
        from_components=[L.COMPONENT_DRIFT_CHECK, L.COMPONENT_MONITORING],
    )
    _custom(
        component,
        f"{app_name}-servicemonitor",
        "ServiceMonitor",
        w.metadata(app_name, ns, labels),
        {
            "selector": {"matchLabels": selector},
            "namespaceSelector": {"matchNames": [ns]},
            "endpoints": [
                {
                    "port": "http",
                    "path": "/metrics",
                    "interval": f"{args.scrape_interval_seconds}s",
                    # Keep the pushed job and model labels instead of the Pushgateway's own.
                    "honorLabels": True,
                }
            ],
        },
    )
    return pulumi.Output.concat(
        "http://", app_name, ".", ns, ".svc.cluster.local:", str(rendering.PUSHGATEWAY_PORT)
    )


def _drift_credentials(component: pulumi.Resource, name: str, args: MonitoringArgs) -> pulumi.Output[str]:
    """The Secret the drift jobs read the object store's keys from; its name."""
    assert args.drift_store is not None
    secret_name = f"{name}-drift-credentials"
    labels = md.common_labels(
        args.ownership, app="drift", instance=secret_name, component=L.COMPONENT_DRIFT_CHECK
    )
    secret = k8s.core.v1.Secret(
        secret_name,
        metadata=w.metadata(secret_name, args.namespace, labels),
        type="Opaque",
        string_data={
            "accessKey": pulumi.Output.secret(args.drift_store.access_key),
            "secretKey": pulumi.Output.secret(args.drift_store.secret_key),
        },
        opts=w.child(component),
    )
    return secret.metadata.apply(lambda m: m.name)


def _model(
    component: pulumi.Resource,
    name: str,
    args: MonitoringArgs,
    target: ScrapeTarget,
    drift: tuple[pulumi.Output[str], pulumi.Output[str]] | None,
) -> None:
    """One model's ServiceMonitor and alert rules; with ``drift`` (Pushgateway URL, credentials Secret
    name), its drift CronJob."""
    own, ns = args.ownership, args.namespace
    prefix = f"{name}-{target.model}"
    base = md.common_labels(own, app=target.model, instance=prefix, component=L.COMPONENT_MONITORING)
    _custom(
        component,
        f"{prefix}-servicemonitor",
        "ServiceMonitor",
        w.metadata(prefix, ns, {**base, L.SCRAPE_TARGET: md.label_value(target.model)}),
        service_monitor_spec(target, args.scrape_interval_seconds, ns),
    )
    _custom(
        component,
        f"{prefix}-rules",
        "PrometheusRule",
        w.metadata(prefix, ns, {**base, L.ALERT_RULES_FOR: md.label_value(target.model)}),
        {"groups": [rendering.alert_rule_group(target)]},
    )
    if target.drift is None:
        return
    assert drift is not None and args.drift_store is not None  # check_monitoring
    pushgateway_url, secret_name = drift
    image = args.drift_image or target.image
    if image is None:
        raise ValueError(
            f"drift check of {target.model!r} needs an image: set drift_image or the target's image"
        )
    drift_name = f"{prefix}-drift"
    labels = {
        **md.common_labels(own, app=target.model, instance=drift_name, component=L.COMPONENT_DRIFT_CHECK),
        L.MODEL: md.label_value(target.model),
    }
    env_vars = [
        w.env("MODEL_NAME", target.model),
        w.env("PSI_THRESHOLD", repr(target.drift.psi_threshold)),
        w.env("FEATURE_SHARE_THRESHOLD", repr(target.drift.feature_share_threshold)),
        w.env("AWS_ENDPOINT_URL", args.drift_store.endpoint),
        w.secret_env("AWS_ACCESS_KEY_ID", secret_name, "accessKey"),
        w.secret_env("AWS_SECRET_ACCESS_KEY", secret_name, "secretKey"),
        w.env("DRIFT_BUCKET", args.drift_store.bucket),
        w.env("DRIFT_PREFIX", args.drift_store.prefix),
        w.env("PUSHGATEWAY_URL", pushgateway_url),
        w.env("HOME", "/tmp"),
    ]
    job = w.container(
        "drift-check", image, compute=ComputeResources(), command=DRIFT_COMMAND, env_vars=env_vars
    )
    k8s.batch.v1.CronJob(
        drift_name,
        metadata=w.metadata(drift_name, ns, labels, {L.DRIFT_CHECK: "enabled"}),
        spec={
            "schedule": target.drift.schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": 1,
                    "template": w.pod_template(
                        labels, w.pod_spec([job], run_as_user=DRIFT_USER, restart_policy="Never")
                    ),
                },
            },
        },
        opts=w.child(component),
    )


def build(component: pulumi.Resource, name: str, args: MonitoringArgs) -> MonitoringOutputs:
    _prometheus(component, name, args)
    _alertmanager(component, name, args)
    admin_password = None
    if args.grafana_image is not None:
        admin_password = _grafana(component, name, args, args.grafana_image)
    elif args.dashboards:
        _sidecar_dashboards(component, name, args)
    targets = sorted(args.scrape_targets, key=lambda t: t.model)
    pushgateway_url = _pushgateway(component, name, args)
    drift = None
    if any(t.drift is not None for t in targets):
        drift = (pushgateway_url, _drift_credentials(component, name, args))
    for target in targets:
        _model(component, name, args, target, drift)
    ns = args.namespace

    def url(service: str, port: int) -> pulumi.Output[str]:
        return pulumi.Output.concat("http://", service, ".", ns, ".svc.cluster.local:", str(port))

    return MonitoringOutputs(
        prometheus_url=url(PROMETHEUS_SERVICE, rendering.PROMETHEUS_PORT),
        alertmanager_url=url(ALERTMANAGER_SERVICE, rendering.ALERTMANAGER_PORT),
        grafana_url=None if admin_password is None else url(f"{name}-grafana", rendering.GRAFANA_PORT),
        pushgateway_url=pushgateway_url,
        grafana_admin_password=admin_password,
        dashboards=[t.model for t in targets] if args.dashboards else [],
    )
