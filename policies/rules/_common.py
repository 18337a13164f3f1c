"""Cross-target helpers: labels and annotations of any resource, secret detection."""

from __future__ import annotations

import re
from typing import Any

from detect_secrets.plugins.keyword import DENYLIST as KEYWORD_DENYLIST

from mlops_platform import vocabulary as L
from mlops_platform.policies.rules import _docker, _inference, _k8s
from mlops_platform.policies.rules._model import Res, Unknown, as_dict, get, is_unknown
from mlops_platform.policies.rules._secrets import credential_kind

# Env var / key names that conventionally hold credentials. ``_FILE``/``_PATH`` variants point at a
# mounted file instead and are fine (``POSTGRES_PASSWORD_FILE``).
# detect-secrets' keyword plugin's names (``account_?key``, ``client_?key``, ``db_?pass``...), but for
# ``pwd``: the shell's working directory (``PWD=/app``), not a password.
_KEYWORD_NAMES = "|".join(word.upper() for word in KEYWORD_DENYLIST if word != "pwd")
_SECRET_NAME_RE = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|SECRET_?KEY|PRIVATE_?KEY|"
    rf"CREDENTIALS?|AUTH_?KEY|WEBHOOK_?URL|DSN|{_KEYWORD_NAMES})(_|$)"
)
_REFERENCE_SUFFIX_RE = re.compile(r"_(FILE|PATH|REF|NAME|ID_FILE)$")

# In configuration files: ``password: hunter2`` / ``api_key = abc``; ``${VAR}``/``$(VAR)`` are references.
_ASSIGNMENT_RE = re.compile(
    r"(?im)^\s*[\"']?[\w.-]*(password|passwd|secret|token|api[_-]?key|access[_-]?key)[\"']?\s*[:=]\s*"
    r"(?![\"']?(\$\{|\$\(|<|\"\"|''|$|~|null\b|none\b))[\"']?[^\s\"']{4,}"
)
_ASSIGNMENT_WORDS = ("password", "passwd", "secret", "token", "api", "access")


def _may_assign(value: str) -> bool:
    """False only when ``_ASSIGNMENT_RE`` cannot match: an ASCII value without any of its words.

    (Outside ASCII, case-insensitive matching pairs letters that ``lower()`` does not, e.g. ``ſ``.)
    """
    if not value.isascii():
        return True
    lowered = value.lower()
    return any(word in lowered for word in _ASSIGNMENT_WORDS)


def secret_name(name: str) -> bool:
    """Whether an env var or key name looks like it holds a credential."""
    norm = re.sub(r"[^A-Za-z0-9]+", "_", name.rsplit("/", 1)[-1]).upper()
    return bool(_SECRET_NAME_RE.search(norm)) and not _REFERENCE_SUFFIX_RE.search(norm)


# A Kubernetes object name (DNS-1123 subdomain) with a separator: how a Secret is named, never how a
# password looks (tailscale's TS_KUBE_SECRET=tailscale-state names the Secret it keeps its state in).
_OBJECT_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def names_a_secret(name: str, value: str) -> bool:
    """Whether env var ``name`` (``*_SECRET``) holds the name of a Kubernetes Secret, not a credential.

    Only ``SECRET`` itself says so (a ``*_PASSWORD`` or ``*_TOKEN`` holds the credential), and the
    value must be an object name with a ``-`` or ``.`` in it, at most 253 characters.
    """
    norm = re.sub(r"[^A-Za-z0-9]+", "_", name.rsplit("/", 1)[-1]).upper()
    words = {m.group(2) for m in _SECRET_NAME_RE.finditer(norm)}
    return (
        words == {"SECRET"}
        and len(value) <= 253
        and ("-" in value or "." in value)
        and _OBJECT_NAME_RE.match(value) is not None
    )


def secret_value_kind(value: str, config_file: bool = False) -> str | None:
    """The kind of credential ``value`` looks like, or ``None``."""
    kind = credential_kind(value)
    if kind is not None:
        return kind
    if config_file and _may_assign(value) and _ASSIGNMENT_RE.search(value):
        return "password/token assignment"
    return None


def object_labels(res: Res) -> Any:
    """Labels of any resource: k8s ``metadata.labels``, Docker ``labels`` as a dict."""
    if res.is_docker:
        if _docker.labels_unknown(res):
            return Unknown("labels", "array")
        return _docker.labels(res)
    return _k8s.object_labels(res)


def object_annotations(res: Res) -> Any:
    """k8s annotations; Docker has only labels, which carry the annotation keys too (contract)."""
    if res.is_docker:
        return object_labels(res)
    return _k8s.object_annotations(res)


def label(res: Res, key: str) -> Any:
    """A label value from the object, falling back to the pod template for k8s workloads."""
    value = as_dict(object_labels(res)).get(key)
    if value is None and _k8s.is_workload(res):
        value = as_dict(_k8s.pod_labels(res)).get(key)
    return value


def annotation(res: Res, key: str) -> Any:
    value = as_dict(object_annotations(res)).get(key)
    if value is None and _k8s.is_workload(res):
        value = as_dict(get(_k8s.pod_template(res), "metadata", "annotations")).get(key)
    return value


def component(res: Res) -> Any:
    """The APP_COMPONENT label (object, else pod template)."""
    return label(res, L.APP_COMPONENT)


def is_component(res: Res, *names: str) -> bool:
    value = component(res)
    return not is_unknown(value) and value in names


def is_serving(res: Res) -> bool:
    """A model-serving workload, however deployed (``_inference``).

    Ours (a k8s workload or Docker container labelled ``component: model-server``), one opted in
    (``mlops.dev/model-workload: "true"`` on the object or its pods), a serving custom resource
    (KServe, Seldon), or a workload running a known inference server (vLLM, TGI, Triton, ...).
    """
    if _inference.is_serving_resource(res):
        return True
    if not (_k8s.is_workload(res) or res.type == _docker.CONTAINER):
        return False
    if is_component(res, L.COMPONENT_MODEL_SERVER):
        return True
    if _inference.opted_in(object_labels(res)) or (
        _k8s.is_workload(res) and _inference.opted_in(_k8s.pod_labels(res))
    ):
        return True
    return _inference.inference_server(res) is not None


def labelable(res: Res) -> bool:
    """Resources that carry labels: every k8s object, Docker containers, networks and volumes."""
    return (res.is_k8s and not res.type.startswith("kubernetes:yaml")) or res.type in _docker.LABELABLE
