"""Every resource rule: compliant baselines pass, each mutation yields exactly the expected message.

Rules run through the pack's real ``validate`` with props wrapped as pulumi-policy wraps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.policies.catalogue import RULES, RULES_BY_NAME
from mlops_platform.policies.packs import build_policy
from tests.policies.policy_fixtures import (
    DELETE,
    DIGEST,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    NotApplicable,
    R,
    backup_job,
    config_map,
    container,
    database,
    deployment,
    docker_database,
    docker_labels,
    docker_network,
    drift_job,
    env_config,
    hpa,
    ingress,
    model_annotations,
    model_labels,
    namespace,
    network_policy,
    object_store,
    pdb,
    prometheus,
    prometheus_rule,
    pvc,
    run_policy,
    run_rule,
    secret,
    service,
    service_account,
    service_monitor,
)

C0 = "spec.template.spec.containers.0"
C0P = "spec.template.spec.containers[0]"
POD = "spec.template.spec"
SC = f"{C0}.securityContext"


BASELINES: dict[str, Callable[[], R]] = {
    "deployment": deployment,
    "canary": lambda: deployment(track="canary", replicas=1),
    "database": database,
    "object-store": object_store,
    "backup-job": backup_job,
    "drift-job": drift_job,
    "namespace": namespace,
    "network-policy": network_policy,
    "pdb": pdb,
    "hpa": hpa,
    "service-monitor": service_monitor,
    "prometheus-rule": prometheus_rule,
    "service": service,
    "ingress": ingress,
    "config-map": config_map,
    "pvc": pvc,
    "service-account": service_account,
    "container": container,
    "docker-database": docker_database,
    "docker-network": docker_network,
    "prometheus": prometheus,
}
RESOURCE_RULES = [r.name for r in RULES if not r.stack]


@pytest.mark.parametrize("rule", RESOURCE_RULES)
@pytest.mark.parametrize("baseline", BASELINES)
def test_compliant_baseline_passes(rule: str, baseline: str) -> None:
    outcome = run_rule(rule, BASELINES[baseline](), env_config("prod", rule))
    assert outcome == [] or isinstance(outcome, NotApplicable), outcome


def P(prefix: str, key: str) -> tuple[str, ...]:
    """A mutation path ending in a key that contains dots (``metadata.labels`` + ``mlops.dev/team``)."""
    return (*prefix.split("."), key)


def m(res: R, *changes: tuple[Any, Any]) -> R:
    for path, value in changes:
        res = res.mutate(path, value)
    return res


def relabel(res: R, **changes: Any) -> R:
    """A Docker container with labels changed (``None`` removes the label)."""
    labels = {item["label"]: item["value"] for item in res.props["labels"]}
    for key, value in changes.items():
        key = getattr(L, key)
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
    return res.mutate("labels", docker_labels(labels))


UNKNOWN_SUFFIX = " is unknown during preview; it cannot be verified"


def llm_server(
    argv: list[str], *, image: str = "ghcr.io/acme/llm:1.0", env: dict[str, str] | None = None
) -> R:
    """A Deployment running an inference server with none of our labels (a team's own program)."""
    container: dict[str, Any] = {"name": "llm", "image": image, "command": argv[:1], "args": argv[1:]}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    spec = {
        "selector": {"matchLabels": {"app": "llm"}},
        "template": {"metadata": {"labels": {"app": "llm"}}, "spec": {"containers": [container]}},
    }
    return R("kubernetes:apps/v1:Deployment", "llm", {"metadata": {"name": "llm"}, "spec": spec})


# (rule, case id, resource, expected messages)
CASES: list[tuple[str, str, R, list[str]]] = [
    # --- workload-no-privileged
    (
        "workload-no-privileged",
        "k8s",
        m(deployment(), (f"{SC}.privileged", True)),
        ['container "server" runs privileged (securityContext.privileged=true)'],
    ),
    (
        "workload-no-privileged",
        "docker",
        m(container(), ("privileged", True)),
        ["container runs privileged (privileged=true)"],
    ),
    (
        "workload-no-privileged",
        "k8s-unknown",
        m(deployment(), (f"{SC}.privileged", UNKNOWN_BOOLEAN_VALUE)),
        [f"{C0P}.securityContext.privileged{UNKNOWN_SUFFIX}"],
    ),
    (
        "workload-no-privileged",
        "docker-unknown",
        m(container(), ("privileged", UNKNOWN_BOOLEAN_VALUE)),
        [f"privileged{UNKNOWN_SUFFIX}"],
    ),
    (
        "workload-no-privileged",
        "pod-spec-unknown",
        m(deployment(), (POD, UNKNOWN_OBJECT_VALUE)),
        ["spec.template.spec is unknown during preview; the pod spec cannot be verified"],
    ),
    (
        "workload-no-privileged",
        "init-container",
        m(
            deployment(),
            (
                f"{POD}.initContainers",
                [{"name": "migrate", "image": "x", "securityContext": {"privileged": True}}],
            ),
        ),
        ['container "migrate" runs privileged (securityContext.privileged=true)'],
    ),
    (
        "workload-no-privileged",
        "cronjob",
        m(
            backup_job(),
            ("spec.jobTemplate.spec.template.spec.containers.0.securityContext.privileged", True),
        ),
        ['container "job" runs privileged (securityContext.privileged=true)'],
    ),
    # --- workload-no-privilege-escalation
    (
        "workload-no-privilege-escalation",
        "k8s-unset",
        m(deployment(), (f"{SC}.allowPrivilegeEscalation", DELETE)),
        ['container "server" does not set securityContext.allowPrivilegeEscalation=false'],
    ),
    (
        "workload-no-privilege-escalation",
        "k8s-true",
        m(deployment(), (f"{SC}.allowPrivilegeEscalation", True)),
        ['container "server" does not set securityContext.allowPrivilegeEscalation=false'],
    ),
    (
        "workload-no-privilege-escalation",
        "docker",
        m(container(), ("securityOpts", [])),
        ['securityOpts does not include "no-new-privileges:true"'],
    ),
    (
        "workload-no-privilege-escalation",
        "docker-equals-form",
        m(container(), ("securityOpts", ["no-new-privileges=true"])),
        [],
    ),
    # --- workload-run-as-non-root
    (
        "workload-run-as-non-root",
        "k8s-unset",
        m(
            deployment(),
            (f"{POD}.securityContext.runAsNonRoot", DELETE),
            (f"{POD}.securityContext.runAsUser", DELETE),
        ),
        ['container "server" sets neither runAsNonRoot=true nor a non-zero runAsUser'],
    ),
    (
        "workload-run-as-non-root",
        "k8s-uid0-container-override",
        m(deployment(), (f"{SC}.runAsUser", 0)),
        ['container "server" runs as UID 0 (runAsUser=0)'],
    ),
    (
        "workload-run-as-non-root",
        "k8s-uid-only",
        m(deployment(), (f"{POD}.securityContext.runAsNonRoot", DELETE)),
        [],
    ),
    (
        "workload-run-as-non-root",
        "docker-unset",
        m(container(), ("user", DELETE)),
        ["user is not set, so the container runs as the image's default user (often root)"],
    ),
    (
        "workload-run-as-non-root",
        "docker-root",
        m(container(), ("user", "root:root")),
        ['user "root:root" is root'],
    ),
    (
        "workload-run-as-non-root",
        "docker-unknown",
        m(container(), ("user", UNKNOWN_STRING_VALUE)),
        [f"user{UNKNOWN_SUFFIX}"],
    ),
    # --- workload-read-only-root-filesystem
    (
        "workload-read-only-root-filesystem",
        "k8s",
        m(deployment(), (f"{SC}.readOnlyRootFilesystem", False)),
        ['container "server" does not set securityContext.readOnlyRootFilesystem=true'],
    ),
    (
        "workload-read-only-root-filesystem",
        "docker",
        m(container(), ("readOnly", DELETE)),
        ["root filesystem is writable (readOnly is not true)"],
    ),
    # --- workload-drop-all-capabilities
    (
        "workload-drop-all-capabilities",
        "k8s",
        m(deployment(), (f"{SC}.capabilities.drop", ["NET_RAW"])),
        ['container "server" does not drop ALL capabilities'],
    ),
    (
        "workload-drop-all-capabilities",
        "docker",
        m(container(), ("capabilities", DELETE)),
        ['capabilities.drops does not include "ALL"'],
    ),
    (
        "workload-drop-all-capabilities",
        "docker-cap-prefix",
        m(container(), ("capabilities.drops", ["cap_all"])),
        [],
    ),
    # --- workload-no-added-capabilities
    (
        "workload-no-added-capabilities",
        "k8s",
        m(deployment(), (f"{SC}.capabilities.add", ["NET_BIND_SERVICE", "SYS_ADMIN"])),
        ['container "server" adds capability SYS_ADMIN'],
    ),
    (
        "workload-no-added-capabilities",
        "docker",
        m(container(), ("capabilities.adds", ["CAP_NET_ADMIN"])),
        ["container adds capability NET_ADMIN"],
    ),
    # --- workload-no-host-namespaces
    (
        "workload-no-host-namespaces",
        "k8s",
        m(deployment(), (f"{POD}.hostNetwork", True), (f"{POD}.hostPID", True)),
        [
            "pod shares the host network namespace (hostNetwork=true)",
            "pod shares the host PID namespace (hostPID=true)",
        ],
    ),
    (
        "workload-no-host-namespaces",
        "docker",
        m(container(), ("networkMode", "host"), ("ipcMode", "host")),
        [
            'container shares the host network namespace (networkMode="host")',
            'container shares the host IPC namespace (ipcMode="host")',
        ],
    ),
    # --- workload-no-host-path-mounts / runtime socket
    (
        "workload-no-host-path-mounts",
        "k8s",
        m(deployment(), (f"{POD}.volumes", [{"name": "logs", "hostPath": {"path": "/var/log"}}])),
        ['volume "logs" mounts hostPath "/var/log"'],
    ),
    (
        "workload-no-host-path-mounts",
        "docker",
        m(container(), ("volumes", [{"hostPath": "/etc", "containerPath": "/host"}])),
        ['volumes[0].hostPath bind-mounts host path "/etc"'],
    ),
    (
        "workload-no-host-path-mounts",
        "docker-named-volume",
        m(container(), ("volumes", [{"volumeName": "data", "containerPath": "/d"}])),
        [],
    ),
    (
        "workload-no-runtime-socket-mount",
        "k8s",
        m(deployment(), (f"{POD}.volumes", [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}])),
        ['volume "sock" mounts the container runtime socket "/var/run/docker.sock"'],
    ),
    (
        "workload-no-runtime-socket-mount",
        "docker-mount",
        m(
            container(),
            ("mounts", [{"type": "bind", "source": "/run/containerd/containerd.sock", "target": "/c.sock"}]),
        ),
        ['mounts[0].source mounts the container runtime socket "/run/containerd/containerd.sock"'],
    ),
    (
        "workload-no-runtime-socket-mount",
        "docker-other-bind",
        m(container(), ("mounts", [{"type": "bind", "source": "/srv/data", "target": "/data"}])),
        [],
    ),
    # --- workload-seccomp-runtime-default
    (
        "workload-seccomp-runtime-default",
        "k8s-unset",
        m(deployment(), (f"{POD}.securityContext.seccompProfile", DELETE)),
        ['container "server" seccompProfile.type is not set; expected RuntimeDefault or Localhost'],
    ),
    (
        "workload-seccomp-runtime-default",
        "k8s-container-unconfined",
        m(deployment(), (f"{SC}.seccompProfile", {"type": "Unconfined"})),
        ['container "server" seccompProfile.type is "Unconfined"; expected RuntimeDefault or Localhost'],
    ),
    (
        "workload-seccomp-runtime-default",
        "docker",
        m(container(), ("securityOpts", ["no-new-privileges:true", "seccomp=unconfined"])),
        ['securityOpts disables the default seccomp profile ("seccomp=unconfined")'],
    ),
    # --- model-artifact-pinned: inference servers deployed without our labels
    (
        "model-artifact-pinned",
        "vllm-positional",
        llm_server(["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]),
        [
            'container "llm" pulls model "meta-llama/Llama-3.1-8B-Instruct" from a hub at start without '
            "a revision (--revision or REVISION)"
        ],
    ),
    (
        "model-artifact-pinned",
        "vllm-revision",
        llm_server(["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--revision", "0e9e39f2"]),
        [],
    ),
    (
        "model-artifact-pinned",
        "llama-cpp-hf",
        llm_server(["llama-server", "-hf", "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M", "--port", "8080"]),
        [
            'container "llm" pulls model "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M" from a hub at start without '
            "a revision (--revision or REVISION)"
        ],
    ),
    (
        "model-artifact-pinned",
        "tgi-env",
        llm_server(
            [], image="ghcr.io/huggingface/text-generation-inference:3.0.1", env={"MODEL_ID": "org/m"}
        ),
        [
            'container "llm" pulls model "org/m" from a hub at start without a revision '
            "(--revision or REVISION)"
        ],
    ),
    (
        "model-artifact-pinned",
        "tgi-env-revision",
        llm_server(
            [],
            image="ghcr.io/huggingface/text-generation-inference:3.0.1",
            env={"MODEL_ID": "org/m", "REVISION": "a1b2"},
        ),
        [],
    ),
    (
        "model-artifact-pinned",
        "local-path",
        llm_server(["vllm", "serve", "/models/llama"]),
        [],
    ),
    # --- image-no-latest-tag
    (
        "image-no-latest-tag",
        "k8s-latest",
        m(deployment(), (f"{C0}.image", "ghcr.io/acme-ml/fraud-scorer:latest")),
        ['container "server" image "ghcr.io/acme-ml/fraud-scorer:latest" uses the mutable "latest" tag'],
    ),
    (
        "image-no-latest-tag",
        "docker-untagged",
        m(container(), ("image", "postgres")),
        ['image image "postgres" has no tag (resolves to "latest")'],
    ),
    (
        "image-no-latest-tag",
        "registry-port-untagged",
        m(container(), ("image", "localhost:5000/models/scorer")),
        ['image image "localhost:5000/models/scorer" has no tag (resolves to "latest")'],
    ),
    (
        "image-no-latest-tag",
        "latest-but-digest",
        m(container(), ("image", f"ghcr.io/acme-ml/x:latest@{DIGEST}")),
        [],
    ),
    ("image-no-latest-tag", "docker-image-id", m(container(), ("image", DIGEST)), []),
    (
        "image-no-latest-tag",
        "branch-tag",
        m(deployment(), (f"{C0}.image", "ghcr.io/acme/web:main")),
        ['container "server" image "ghcr.io/acme/web:main" uses the mutable "main" tag'],
    ),
    (
        "image-no-latest-tag",
        "channel-tag",
        m(container(), ("image", "caddy:nightly")),
        ['image image "caddy:nightly" uses the mutable "nightly" tag'],
    ),
    ("image-no-latest-tag", "version-tag", m(container(), ("image", "caddy:2.8.4")), []),
    (
        "image-no-latest-tag",
        "remote-image",
        R("docker:index/remoteImage:RemoteImage", "img", {"name": "nginx:latest"}),
        ['name image "nginx:latest" uses the mutable "latest" tag'],
    ),
    (
        "image-no-latest-tag",
        "unknown",
        m(container(), ("image", UNKNOWN_STRING_VALUE)),
        [f"image image{UNKNOWN_SUFFIX}"],
    ),
    # --- image-digest-pinned
    (
        "image-digest-pinned",
        "k8s",
        m(deployment(), (f"{C0}.image", "ghcr.io/acme-ml/fraud-scorer:3.2.0")),
        [
            'container "server" image "ghcr.io/acme-ml/fraud-scorer:3.2.0" is not pinned by digest '
            "(@sha256:...)"
        ],
    ),
    (
        "image-digest-pinned",
        "malformed",
        m(container(), ("image", "ghcr.io/acme-ml/x:1@sha256:abc")),
        ['image image "ghcr.io/acme-ml/x:1@sha256:abc" has a malformed digest'],
    ),
    # --- image-approved-registry
    (
        "image-approved-registry",
        "k8s",
        m(deployment(), (f"{C0}.image", f"evil.example/x:1@{DIGEST}")),
        [
            f'container "server" image "evil.example/x:1@{DIGEST}" is not from an approved registry '
            "(ghcr.io/acme-ml, "
            "ghcr.io/mlflow, docker.io/library, docker.io/prom, docker.io/grafana, quay.io/minio)"
        ],
    ),
    (
        "image-approved-registry",
        "docker-hub-user-repo",
        m(container(), ("image", f"someone/tool:1@{DIGEST}")),
        [
            f'image image "someone/tool:1@{DIGEST}" is not from an approved registry (ghcr.io/acme-ml, '
            "ghcr.io/mlflow, docker.io/library, docker.io/prom, docker.io/grafana, quay.io/minio)"
        ],
    ),
    (
        "image-approved-registry",
        "prefix-is-not-a-path-prefix",
        m(container(), ("image", f"ghcr.io/acme-ml-evil/x:1@{DIGEST}")),
        [
            f'image image "ghcr.io/acme-ml-evil/x:1@{DIGEST}" is not from an approved registry '
            "(ghcr.io/acme-ml, "
            "ghcr.io/mlflow, docker.io/library, docker.io/prom, docker.io/grafana, quay.io/minio)"
        ],
    ),
    ("image-approved-registry", "library-short-name", m(container(), ("image", f"postgres:16@{DIGEST}")), []),
    # --- secret-no-plaintext-env
    (
        "secret-no-plaintext-env",
        "k8s-literal",
        m(deployment(), (f"{C0}.env.1", {"name": "DB_PASSWORD", "value": "hunter2"})),
        [
            'container "server" sets secret-looking env var DB_PASSWORD from a literal value; use '
            "valueFrom.secretKeyRef"
        ],
    ),
    (
        "secret-no-plaintext-env",
        "k8s-credential-value",
        m(
            deployment(),
            (f"{C0}.env.0", {"name": "MLFLOW_BACKEND", "value": "postgresql://mlflow:pw@db:5432/mlflow"}),
        ),
        [
            'container "server" env var MLFLOW_BACKEND holds a value that looks like a credential '
            "(Basic Auth Credentials)"
        ],
    ),
    (  # detect-secrets' keyword names: an Azure Batch account key by its name
        "secret-no-plaintext-env",
        "k8s-azure-batch-key-name",
        m(deployment(), (f"{C0}.env.0", {"name": "AZURE_BATCH_ACCOUNT_KEY", "value": "c2VjcmV0"})),
        [
            'container "server" sets secret-looking env var AZURE_BATCH_ACCOUNT_KEY from a literal '
            "value; use valueFrom.secretKeyRef"
        ],
    ),
    (  # ... and by its value: detect-secrets' Azure key plugin reads the connection string
        "secret-no-plaintext-env",
        "k8s-azure-batch-connection",
        m(
            deployment(),
            (
                f"{C0}.env.0",
                {"name": "BATCH_CONNECTION", "value": f"BatchAccountName=acme;BatchAccountKey={'A1b2' * 22}"},
            ),
        ),
        [
            'container "server" env var BATCH_CONNECTION holds a value that looks like a credential '
            "(Azure Storage Account access key)"
        ],
    ),
    (  # the OCI CLI's key content: a PEM private key (detect-secrets' private key plugin)
        "secret-no-plaintext-env",
        "k8s-oci-cli-key",
        m(
            deployment(),
            (
                f"{C0}.env.0",
                {
                    "name": "OCI_CLI_KEY_CONTENT",
                    "value": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"
                    "OCI_API_KEY",
                },
            ),
        ),
        [
            'container "server" env var OCI_CLI_KEY_CONTENT holds a value that looks like a credential '
            "(Private Key)"
        ],
    ),
    (
        "secret-no-plaintext-env",
        "k8s-pwd",
        m(deployment(), (f"{C0}.env.0", {"name": "PWD", "value": "/app"})),
        [],
    ),
    (  # the name of a Secret (tailscale's state Secret), not a credential
        "secret-no-plaintext-env",
        "k8s-secret-name",
        m(deployment(), (f"{C0}.env.0", {"name": "TS_KUBE_SECRET", "value": "tailscale-state"})),
        [],
    ),
    (
        "secret-no-plaintext-env",
        "k8s-secret-literal",
        m(deployment(), (f"{C0}.env.0", {"name": "CLIENT_SECRET", "value": "Zq8xv2Lk"})),
        [
            'container "server" sets secret-looking env var CLIENT_SECRET from a literal value; use '
            "valueFrom.secretKeyRef"
        ],
    ),
    (
        "secret-no-plaintext-env",
        "k8s-file-reference",
        m(deployment(), (f"{C0}.env.0", {"name": "POSTGRES_PASSWORD_FILE", "value": "/run/secrets/pw"})),
        [],
    ),
    (
        "secret-no-plaintext-env",
        "docker-not-secret",
        m(container(), ("envs", ["LOG_LEVEL=info", "API_TOKEN=abc123"])).__class__(
            "docker:index/container:Container", "c", {"envs": ["LOG_LEVEL=info", "API_TOKEN=abc123"]}
        ),
        [
            'env var API_TOKEN looks like a secret but "envs" is not marked secret (wrap the value in '
            "Output.secret "
            'and set additional_secret_outputs=["envs"])'
        ],
    ),
    (
        "secret-no-plaintext-env",
        "docker-secret-wrapped",
        R(
            "docker:index/container:Container",
            "c",
            {"envs": [secret("API_TOKEN=abc123")]},
            secret_outputs=("envs",),
        ),
        [],
    ),
    (
        "secret-no-plaintext-env",
        "docker-aws-key",
        R("docker:index/container:Container", "c", {"envs": ["SOME_ID=AKIAABCDEFGHIJKLMNOP"]}),
        ["env var SOME_ID holds a value that looks like a credential (AWS Access Key)"],
    ),
    (
        "secret-no-plaintext-env",
        "docker-unknown-entry",
        R("docker:index/container:Container", "c", {"envs": ["LOG_LEVEL=info", UNKNOWN_STRING_VALUE]}),
        [],
    ),
    (
        "secret-no-plaintext-env",
        "docker-unknown-list",
        R("docker:index/container:Container", "c", {"envs": UNKNOWN_ARRAY_VALUE}),
        ["envs is unknown during preview; whether it holds plaintext secrets cannot be verified"],
    ),
    # --- secret-no-plaintext-config
    (
        "secret-no-plaintext-config",
        "configmap-key",
        config_map({"db-password": "hunter2"}),
        ['ConfigMap key "db-password" looks like a secret; store it in a Secret'],
    ),
    (
        "secret-no-plaintext-config",
        "configmap-file",
        config_map({"app.yaml": "db:\n  password: hunter22\n"}),
        ['ConfigMap key "app.yaml" holds a value that looks like a credential (password/token assignment)'],
    ),
    (
        "secret-no-plaintext-config",
        "configmap-reference",
        config_map({"app.yaml": "db:\n  password: ${DB_PASSWORD}\n"}),
        [],
    ),
    (
        "secret-no-plaintext-config",
        "docker-upload",
        m(
            prometheus(),
            ("uploads.0.content", "remote_write:\n  - url: https://u:p4ss@metrics.example/api\n"),
        ),
        [
            'upload "/etc/prometheus/prometheus.yml" holds a value that looks like a credential '
            "(Basic Auth Credentials)"
        ],
    ),
    # --- secret-no-plaintext-metadata
    (
        "secret-no-plaintext-metadata",
        "k8s-annotation",
        m(service(), ("metadata.annotations", {"mlops.dev/api-token": "abc"})),
        ['annotation "mlops.dev/api-token" looks like a secret'],
    ),
    (
        "secret-no-plaintext-metadata",
        "k8s-pod-annotation",
        m(deployment(), ("spec.template.metadata.annotations.note", "-----BEGIN RSA PRIVATE KEY-----")),
        ['pod template annotation "note" holds a value that looks like a credential (Private Key)'],
    ),
    (
        "secret-no-plaintext-metadata",
        "docker-label",
        relabel(container(), TEAM="ghp_" + "a" * 36),
        [f'label "{L.TEAM}" holds a value that looks like a credential (GitHub Token)'],
    ),
    # --- network-no-public-exposure
    (
        "network-no-public-exposure",
        "service-lb",
        service("LoadBalancer"),
        [f'Service type LoadBalancer exposes it outside the cluster without "{L.EXPOSURE_ALLOWED}: true"'],
    ),
    (
        "network-no-public-exposure",
        "service-lb-allowed",
        m(service("NodePort"), ("metadata.annotations", {L.EXPOSURE_ALLOWED: "true"})),
        [],
    ),
    (
        "network-no-public-exposure",
        "host-port",
        m(deployment(), (f"{C0}.ports.0.hostPort", 8080)),
        ['container "server" binds hostPort 8080 on the node'],
    ),
    (
        "network-no-public-exposure",
        "docker-all-interfaces",
        m(container(), ("ports.0.ip", DELETE)),
        ['port 8080 is published on all host interfaces (ip "0.0.0.0"); bind 127.0.0.1'],
    ),
    (
        "network-no-public-exposure",
        "docker-allowed",
        relabel(m(container(), ("ports.0.ip", "0.0.0.0")), EXPOSURE_ALLOWED="true"),
        [],
    ),
    # --- ingress-tls-required
    (
        "ingress-tls-required",
        "no-tls",
        m(ingress(), ("spec.tls", DELETE)),
        ["Ingress has no spec.tls; every host must be served over TLS"],
    ),
    (
        "ingress-tls-required",
        "uncovered-host",
        m(ingress(), ("spec.rules", [{"host": "models.acme.example"}, {"host": "api.acme.example"}])),
        ['host "api.acme.example" is not covered by spec.tls'],
    ),
    ("ingress-tls-required", "wildcard", m(ingress(), ("spec.tls.0.hosts", ["*.acme.example"])), []),
    # --- namespace-not-default
    (
        "namespace-not-default",
        "missing",
        m(service(), ("metadata.namespace", DELETE)),
        ["metadata.namespace is not set, so the object lands in the provider's default namespace"],
    ),
    (
        "namespace-not-default",
        "default",
        m(deployment(), ("metadata.namespace", "default")),
        ['object is in the reserved namespace "default"'],
    ),
    # --- workload-resource-requests / limits
    (
        "workload-resource-requests",
        "k8s",  # no memory request and no memory limit for Kubernetes to copy into it
        m(deployment(), (f"{C0}.resources", {"requests": {"cpu": "500m"}, "limits": {"cpu": "1"}})),
        ['container "server" has no memory request (resources.requests.memory)'],
    ),
    (  # Kubernetes copies limits into unset requests: limits alone are requests
        "workload-resource-requests",
        "k8s-limits-only",
        m(deployment(), (f"{C0}.resources", {"limits": {"cpu": "1", "memory": "1Gi"}})),
        [],
    ),
    (
        "workload-resource-requests",
        "k8s-neither",
        m(deployment(), (f"{C0}.resources", {"limits": {"cpu": "1"}})),
        ['container "server" has no memory request (resources.requests.memory)'],
    ),
    (
        "workload-resource-requests",
        "docker",
        m(container(), ("cpuShares", DELETE)),
        ["no CPU shares (cpuShares) is set"],
    ),
    (
        "workload-resource-limits",
        "k8s",
        m(deployment(), (f"{C0}.resources", DELETE)),
        [
            'container "server" has no cpu limit (resources.limits.cpu)',
            'container "server" has no memory limit (resources.limits.memory)',
        ],
    ),
    (
        "workload-resource-limits",
        "docker",
        m(container(), ("memory", 0), ("cpus", DELETE)),
        ["no memory limit (memory) is set", "no CPU limit (cpus or cpuQuota) is set"],
    ),
    ("workload-resource-limits", "docker-quota", m(container(), ("cpus", DELETE), ("cpuQuota", 50000)), []),
    # --- workload-health-checks
    (
        "workload-health-checks",
        "k8s",
        m(deployment(), (f"{C0}.readinessProbe", DELETE)),
        ['container "server" has no readinessProbe'],
    ),
    (
        "workload-health-checks",
        "docker-none",
        m(container(), ("healthcheck.tests", ["NONE"])),
        ['healthcheck is disabled (tests ["NONE"])'],
    ),
    (
        "workload-health-checks",
        "docker-missing",
        m(container(), ("healthcheck", DELETE)),
        ["no healthcheck is defined"],
    ),
    (
        "workload-health-checks",
        "docker-job-exempt",
        relabel(m(container(), ("healthcheck", DELETE)), APP_COMPONENT="drift-check"),
        NotApplicable(f"applies to {RULES_BY_NAME['workload-health-checks'].applies_to.summary}"),
    ),
    # --- workload-restart-policy
    (
        "workload-restart-policy",
        "docker-no",
        m(container(), ("restart", "no")),
        ['restart policy is "no"; use unless-stopped, always or on-failure'],
    ),
    (
        "workload-restart-policy",
        "docker-on-failure-unbounded",
        m(container(), ("restart", "on-failure")),
        ['restart "on-failure" needs maxRetryCount between 1 and 5'],
    ),
    (
        "workload-restart-policy",
        "docker-on-failure-5",
        m(container(), ("restart", "on-failure"), ("maxRetryCount", 5)),
        [],
    ),
    (
        "workload-restart-policy",
        "bare-pod",
        R("kubernetes:core/v1:Pod", "p", {"metadata": {"name": "p"}, "spec": {"containers": []}}),
        ["bare Pod is not managed by a controller and is not rescheduled when its node fails"],
    ),
    # --- autoscaler-bounds-sane
    (
        "autoscaler-bounds-sane",
        "low-min",
        hpa(low=1, high=60),
        ["minReplicas 1 is below the tier minimum of 3", "maxReplicas 60 exceeds the ceiling of 50"],
    ),
    ("autoscaler-bounds-sane", "inverted", hpa(low=5, high=4), ["maxReplicas 4 is below minReplicas 5"]),
    (
        "autoscaler-bounds-sane",
        "no-metrics",
        m(hpa(), ("spec.metrics", [])),
        ["no scaling metrics are defined"],
    ),
    # --- storage-protected
    (
        "storage-protected",
        "database",
        m(database(), ("metadata.name", "metadata-db")).__class__(
            database().type, "metadata-db", database().props, protect=False
        ),
        ["stateful resource is not protected (protect=True); a replacement or destroy would delete its data"],
    ),
    (
        "storage-protected",
        "pvc",
        R(pvc().type, "cache", pvc().props),
        ["stateful resource is not protected (protect=True); a replacement or destroy would delete its data"],
    ),
    (
        "storage-protected",
        "docker-volume",
        R("docker:index/volume:Volume", "data", {"name": "data"}),
        ["stateful resource is not protected (protect=True); a replacement or destroy would delete its data"],
    ),
    # --- object store
    (
        "object-store-versioning",
        "disabled",
        m(object_store(), (P("metadata.annotations", L.BUCKET_VERSIONING), "disabled")),
        [f'bucket versioning is "disabled" ({L.BUCKET_VERSIONING}); it must be "enabled"'],
    ),
    (
        "object-store-encryption",
        "missing",
        m(object_store(), ("metadata.annotations", {L.BUCKET_VERSIONING: "enabled"})),
        [f'encryption at rest is not declared ({L.ENCRYPTION_AT_REST}); it must be "enabled"'],
    ),
    (
        "object-store-encryption",
        "docker",
        container(
            "minio",
            {**model_labels(), L.APP_COMPONENT: L.COMPONENT_OBJECT_STORE, L.ENCRYPTION_AT_REST: "disabled"},
        ),
        [f'encryption at rest is "disabled" ({L.ENCRYPTION_AT_REST}); it must be "enabled"'],
    ),
    # --- resource-ownership-labels / app labels
    (
        "resource-ownership-labels",
        "k8s-object",
        m(service(), (P("metadata.labels", L.COST_CENTRE), DELETE)),
        [f'metadata.labels lack "{L.COST_CENTRE}"'],
    ),
    (
        "resource-ownership-labels",
        "k8s-pod-template",
        m(deployment(), (P("spec.template.metadata.labels", L.OWNER), "")),
        [f'pod template labels lack "{L.OWNER}"'],
    ),
    ("resource-ownership-labels", "docker", relabel(container(), TEAM=None), [f'labels lack "{L.TEAM}"']),
    (
        "resource-ownership-labels",
        "docker-unknown-labels",
        m(container(), ("labels", UNKNOWN_ARRAY_VALUE)),
        [f"labels{UNKNOWN_SUFFIX}"],
    ),
    (
        "resource-ownership-labels",
        "unknown-value",
        m(service(), (P("metadata.labels", L.TEAM), UNKNOWN_STRING_VALUE)),
        [f'metadata.labels "{L.TEAM}"{UNKNOWN_SUFFIX}'],
    ),
    (
        "resource-app-labels",
        "k8s",
        m(pvc(), (P("metadata.labels", L.APP_PART_OF), DELETE)),
        [f'metadata.labels lack "{L.APP_PART_OF}"'],
    ),
    # --- model-serving-labels
    (
        "model-serving-labels",
        "k8s-missing-version",
        m(deployment(), (P("metadata.labels", L.MODEL_VERSION), DELETE)),
        [f'metadata.labels lack "{L.MODEL_VERSION}"'],
    ),
    (
        "model-serving-labels",
        "bad-risk-tier",
        relabel(container(), RISK_TIER="extreme"),
        [f'"{L.RISK_TIER}" is "extreme"; expected one of minimal, limited, high'],
    ),
    (
        "model-serving-labels",
        "missing-uri",
        relabel(container(), MODEL_URI=None),
        [f'annotation "{L.MODEL_URI}" is missing'],
    ),
    # --- model-registry-source
    (
        "model-registry-source",
        "adhoc-uri",
        relabel(container(), MODEL_SOURCE="uri", MODEL_URI="s3://bucket/model"),
        [f'model source is "uri"; allowed: registry-version, registry-alias ({L.MODEL_SOURCE})'],
    ),
    (
        "model-registry-source",
        "unapproved-alias",
        m(deployment(), (P("metadata.annotations", L.MODEL_URI), "models:/fraud-scorer/latest")),
        ['model alias "latest" is not approved (champion, challenger)'],
    ),
    (
        "model-registry-source",
        "wrong-model",
        m(deployment(), (P("metadata.annotations", L.MODEL_URI), "models:/other/champion")),
        [
            'model URI "models:/other/champion" names registered model "other", but the workload serves '
            '"fraud-scorer"'
        ],
    ),
    (
        "model-registry-source",
        "version-not-number",
        relabel(container(), MODEL_SOURCE="registry-version"),
        [
            'model URI "models:/fraud-scorer/champion" is declared registry-version but "champion" is not '
            "a version number"
        ],
    ),
    (
        "model-registry-source",
        "pinned-version",
        relabel(container(), MODEL_SOURCE="registry-version", MODEL_URI="models:/fraud-scorer/12"),
        [],
    ),
    # --- model-high-risk-documentation
    (
        "model-high-risk-documentation",
        "k8s",
        m(
            deployment(),
            (
                "metadata.annotations",
                {k: v for k, v in model_annotations().items() if k not in (L.MODEL_CARD_URL, L.APPROVAL_REF)},
            ),
            ("spec.template.metadata.annotations", {}),
        ),
        [
            f'high-risk model has no model card URL (https) in "{L.MODEL_CARD_URL}"',
            f'high-risk model has no approval reference in "{L.APPROVAL_REF}"',
        ],
    ),
    (
        "model-high-risk-documentation",
        "http-card",
        relabel(container(), MODEL_CARD_URL="http://cards/x"),
        [f'high-risk model has no model card URL (https) in "{L.MODEL_CARD_URL}"'],
    ),
    (
        "model-high-risk-documentation",
        "limited-risk-exempt",
        relabel(container(), RISK_TIER="limited", APPROVAL_REF=None),
        [],
    ),
]


@pytest.mark.parametrize(("rule", "case", "res", "expected"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_violation(rule: str, case: str, res: R, expected: list[str]) -> None:
    assert run_rule(rule, res, env_config("prod", rule)) == expected


def test_every_resource_rule_has_violation_cases() -> None:
    from tests.registry.test_registry_rules import REGISTRY_CASES  # the registry rules' own table

    covered = {c[0] for c in (*CASES, *REGISTRY_CASES) if c[3]}
    assert set(RESOURCE_RULES) - covered == set()


NOT_APPLICABLE = {
    "workload-no-privileged": config_map(),
    "ingress-tls-required": deployment(),
    "image-digest-pinned": service(),
    "secret-no-plaintext-config": deployment(),
    "network-no-public-exposure": pvc(),
    "workload-resource-limits": service(),
    "workload-health-checks": backup_job(),
    "autoscaler-bounds-sane": deployment(),
    "storage-protected": deployment(),
    "object-store-versioning": database(),
    "model-serving-labels": database(),
    "model-registry-source": docker_database(),
    "resource-ownership-labels": R("random:index/randomPassword:RandomPassword", "pw", {"length": 32}),
}


@pytest.mark.parametrize("rule", RESOURCE_RULES)
def test_not_applicable(rule: str) -> None:
    """Every rule answers not-applicable outside its scope, even where it would be violated in scope."""
    res = NOT_APPLICABLE.get(rule, R("random:index/randomPassword:RandomPassword", "pw", {"length": 32.0}))
    outcome = run_rule(rule, res, env_config("prod", rule))
    assert outcome == NotApplicable(f"applies to {RULES_BY_NAME[rule].applies_to.summary}")


def test_knobs_come_from_config() -> None:
    undigested = m(container(), ("image", "ghcr.io/acme-ml/fraud-scorer:3.3.0"))
    assert run_rule("image-digest-pinned", undigested, env_config("dev", "image-digest-pinned")) == []
    assert run_rule("image-digest-pinned", undigested, env_config("prod", "image-digest-pinned"))
    assert run_rule("image-digest-pinned", undigested, None), "schema default is strict (prod)"
    unprotected = R(pvc().type, "cache", pvc().props)
    assert run_rule("storage-protected", unprotected, env_config("staging", "storage-protected")) == []
    adhoc = relabel(container(), MODEL_SOURCE="uri", MODEL_URI="s3://bucket/model")
    assert run_rule("model-registry-source", adhoc, env_config("dev", "model-registry-source")) == []


def test_numbers_arrive_as_floats_and_junk_does_not_crash() -> None:
    res = hpa(low=3, high=12)
    assert isinstance(res.props["spec"]["minReplicas"], int)
    assert run_rule("autoscaler-bounds-sane", res, {"minReplicas": 3.0, "maxReplicas": 50.0}) == []
    junk = R(
        "kubernetes:apps/v1:Deployment",
        "junk",
        {
            "metadata": "nope",
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            "x",
                            3,
                            None,
                            {"name": 7, "securityContext": "weird", "resources": [1]},
                        ]
                    }
                }
            },
        },
    )
    for rule in RESOURCE_RULES:
        outcome = run_rule(rule, junk, env_config("prod", rule))
        for message in outcome if isinstance(outcome, list) else ():
            assert "internal error" not in message, (rule, message)


def test_rule_error_fails_closed() -> None:
    """A rule that raises reports a violation at its own level instead of crashing the pack."""

    def boom(res: Any, cfg: Any) -> list[str]:
        raise ValueError("bad input")

    broken = build_policy(replace(RULES_BY_NAME["workload-no-privileged"], check=boom))
    assert run_policy(broken, deployment()) == [
        "internal error while evaluating workload-no-privileged (ValueError: bad input); treated as a "
        "violation"
    ]


@pytest.mark.parametrize(
    ("case", "res"),
    [
        ("vllm-image", llm_server([], image="vllm/vllm-openai:v0.6.3")),
        ("vllm-command", llm_server(["python3", "-m", "vllm.entrypoints.openai.api_server"])),
        ("triton", llm_server(["tritonserver", "--model-repository=/models"])),
        ("torchserve", llm_server([], image="pytorch/torchserve:0.12.0-cpu")),
        ("ollama", llm_server([], image="ollama/ollama:0.5.7")),
        ("bentoml", llm_server(["bentoml", "serve", "service:Svc"])),
        ("mlflow", llm_server(["mlflow", "models", "serve", "-m", "models:/fraud/3"])),
        ("llama-cpp", llm_server([], image="ghcr.io/ggml-org/llama.cpp:server")),
        ("opt-in", llm_server([]).mutate(("metadata", "labels"), {L.MODEL_WORKLOAD: "true"})),
        (
            "kserve",
            R(
                "kubernetes:serving.kserve.io/v1beta1:InferenceService",
                "fraud",
                {"metadata": {"name": "fraud"}, "spec": {"predictor": {"model": {"storageUri": "s3://m"}}}},
            ),
        ),
    ],
)
def test_model_workloads_are_recognised_without_our_labels(case: str, res: R) -> None:
    """The governance rules judge inference servers however deployed: the labels rule finds them."""
    outcome = run_rule("model-serving-labels", res, env_config("prod", "model-serving-labels"))
    assert not isinstance(outcome, NotApplicable) and f'metadata.labels lack "{L.MODEL}"' in outcome, outcome


def test_a_web_server_is_not_a_model_workload() -> None:
    outcome = run_rule(
        "model-serving-labels", llm_server([], image="nginx:1.27"), env_config("prod", "model-serving-labels")
    )
    assert isinstance(outcome, NotApplicable), outcome
