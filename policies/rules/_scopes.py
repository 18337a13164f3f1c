"""Where rules apply: the scopes rules declare as ``applies_to``, shared by several rules.

Each is the types a rule judges and, where the type alone does not say, a predicate over the
resource and the rule's config. Outside it the pack answers not-applicable, and no report counts a
check. A scope only one rule module needs sits in that module, beside its rules.
"""

from __future__ import annotations

from mlops_platform import vocabulary as L
from mlops_platform.policies.rules import _common, _docker, _k8s
from mlops_platform.policies.rules._model import AppliesTo, Config, Res

WORKLOADS = _k8s.WORKLOAD_TYPES  # every pod-bearing kind and API version of the pinned SDK
CONTAINERS = frozenset({_docker.CONTAINER})


def _stateful(res: Res, cfg: Config) -> bool:
    return res.type in (_k8s.PVC, _docker.VOLUME) or _common.is_component(
        res, L.COMPONENT_METADATA_DATABASE, L.COMPONENT_OBJECT_STORE
    )


def _object_store(res: Res, cfg: Config) -> bool:
    return _common.is_component(res, L.COMPONENT_OBJECT_STORE)


def _metadata_database(res: Res, cfg: Config) -> bool:
    return _common.is_component(res, L.COMPONENT_METADATA_DATABASE)


def _serving(res: Res, cfg: Config) -> bool:
    return _common.is_serving(res)


def _labelable(res: Res, cfg: Config) -> bool:
    return _common.labelable(res)


def _owned(res: Res, cfg: Config) -> bool:
    return bool(cfg.get("requiredLabels")) and _common.labelable(res)


def _registries_configured(res: Res, cfg: Config) -> bool:
    return bool(cfg.get("allowedRegistries"))


def _config_or_uploads(res: Res, cfg: Config) -> bool:
    return res.type == _k8s.CONFIG_MAP or bool(res.props.get("uploads"))


def _platform_component(res: Res, cfg: Config) -> bool:
    components = [str(c) for c in cfg.get("components") or ()]
    return _common.is_component(res, *components)


POD_OR_CONTAINER = AppliesTo(
    summary="Kubernetes pod-bearing kinds and Docker containers", types=WORKLOADS | CONTAINERS
)
IMAGES = AppliesTo(
    summary="Kubernetes pod-bearing kinds, Docker containers and remote images",
    types=WORKLOADS | CONTAINERS | {_docker.REMOTE_IMAGE},
)
REGISTRIES = AppliesTo(
    summary="Kubernetes pod-bearing kinds, Docker containers and remote images, once `allowedRegistries` "
    "names the approved registries (none by default)",
    types=IMAGES.types,
    when=_registries_configured,
)
SERVICE_ACCOUNT_TOKEN = AppliesTo(
    summary="Kubernetes pod-bearing kinds and ServiceAccounts", types=WORKLOADS | {_k8s.SERVICE_ACCOUNT}
)
EXPOSURE = AppliesTo(
    summary="Kubernetes Services, pod-bearing kinds (hostPort) and Docker containers",
    types=WORKLOADS | CONTAINERS | {_k8s.SERVICE},
)
CONFIG_FILES = AppliesTo(
    summary="Kubernetes ConfigMaps and Docker containers with uploads",
    types=frozenset({_k8s.CONFIG_MAP, _docker.CONTAINER}),
    when=_config_or_uploads,
)
LABELABLE = AppliesTo(
    summary="every Kubernetes object and Docker container, network and volume", types=None, when=_labelable
)
OWNED = AppliesTo(
    summary="every labelable resource, once `requiredLabels` names the labels (none by default)",
    types=None,
    when=_owned,
)
INGRESSES = AppliesTo(summary="Kubernetes Ingresses (every API version)", types=_k8s.INGRESS_TYPES)
MIN_REPLICAS = AppliesTo(
    summary="Deployments and StatefulSets of the configured components",
    types=_k8s.REPLICATED_TYPES,
    when=_platform_component,
)
REPLICATED = AppliesTo(summary="Deployments and StatefulSets", types=_k8s.REPLICATED_TYPES)
AUTOSCALERS = AppliesTo(
    summary="HorizontalPodAutoscalers with metrics (autoscaling/v2*)", types=_k8s.HPA_TYPES
)
STATEFUL = AppliesTo(
    summary="PVCs, Docker volumes and the platform's database and object-store workloads",
    types=frozenset({_k8s.PVC, _docker.VOLUME, _k8s.STATEFUL_SET, _k8s.DEPLOYMENT, _docker.CONTAINER}),
    when=_stateful,
)
DATABASES = AppliesTo(
    summary="the platform's metadata-database workloads",
    types=frozenset({_k8s.STATEFUL_SET, _k8s.DEPLOYMENT, _docker.CONTAINER}),
    when=_metadata_database,
)
OBJECT_STORES = AppliesTo(
    summary="the platform's object-store workloads",
    types=frozenset({_k8s.STATEFUL_SET, _k8s.DEPLOYMENT, _docker.CONTAINER}),
    when=_object_store,
)
# Serving custom resources, by the API versions their operators serve (KServe, Seldon Core 1 and 2).
_SERVING_RESOURCES = frozenset(
    {
        "kubernetes:serving.kserve.io/v1beta1:InferenceService",
        "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment",
        "kubernetes:machinelearning.seldon.io/v1alpha2:SeldonDeployment",
        "kubernetes:machinelearning.seldon.io/v1alpha3:SeldonDeployment",
        "kubernetes:mlops.seldon.io/v1alpha1:Model",
    }
)
SERVING = AppliesTo(
    summary="model-serving workloads: component label model-server, the opt-in label "
    "mlops.dev/model-workload, "
    "KServe and Seldon resources, or a known inference server (vLLM, TGI, Triton, TorchServe, llama.cpp, "
    "Ollama, BentoML, mlflow models serve)",
    types=WORKLOADS | CONTAINERS | _SERVING_RESOURCES,
    when=_serving,
)


def _registry_consulted(res: Res, cfg: Config) -> bool:
    return _common.is_serving(res) and _common.annotation(res, L.REGISTRY_RESOLUTION) is not None


REGISTRY_CONSULTED = AppliesTo(
    summary="model-serving workloads of environments that consult a model registry (registry_source)",
    types=WORKLOADS | CONTAINERS,
    when=_registry_consulted,
)


def _pinned_version_required(res: Res, cfg: Config) -> bool:
    return bool(cfg.get("requirePinnedVersion", True)) and _common.is_serving(res)


PINNED_VERSION = AppliesTo(
    summary="model-serving workloads, where the tier's config sets `requirePinnedVersion` (every bundled "
    "tier)",
    types=WORKLOADS | CONTAINERS,
    when=_pinned_version_required,
)
