"""Security rules: container hardening, images, secrets and network exposure.

Every function takes the plain resource (:class:`~policies.rules._model.Res`) and the policy's
configuration and returns violation messages; an empty list means compliant or not applicable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.policies import evidence as ev
from mlops_platform.policies.controls import full, partial
from mlops_platform.policies.declaration import (
    BOTH,
    K8S,
    STRING_LIST,
    Cel,
    NotInCel,
    Pack,
    ResourceRule,
    Severity,
    StackRule,
    per_tier,
)
from mlops_platform.policies.evidence import EvidenceSelector
from mlops_platform.policies.rules import _cel as cel
from mlops_platform.policies.rules import _common, _docker, _k8s
from mlops_platform.policies.rules import _scopes as scope
from mlops_platform.policies.rules._common import secret_name
from mlops_platform.policies.rules._images import parse_image, registry_allowed
from mlops_platform.policies.rules._model import (
    AppliesTo,
    Config,
    Res,
    as_dict,
    as_list,
    as_str,
    cfg_list,
    get,
    hkey,
    is_unknown,
    truthy,
    unknown_message,
)

_RUNTIME_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
)
_SOCKET_RE = "^(" + "|".join(re.escape(s) for s in _RUNTIME_SOCKETS) + ")/*$"
"""A runtime socket's path with any trailing slashes (``_socket``'s ``rstrip("/")``), for the CEL."""
_IMAGE_ID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# The registries the bundled tiers approve (``image-approved-registry``'s ``allowedRegistries``).
APPROVED_REGISTRIES = [
    "ghcr.io/acme-ml",
    "ghcr.io/mlflow",
    "docker.io/library",
    "docker.io/prom",
    "docker.io/grafana",
    "quay.io/minio",
]


def _sc(container: _k8s.Container) -> Any:
    return container.spec.get("securityContext")


def _pod_sc(res: Res) -> Any:
    return get(_k8s.pod_spec(res), "securityContext")


def _pod_spec_unknown(res: Res) -> list[str]:
    spec = _k8s.pod_spec(res)
    if is_unknown(spec):
        return [unknown_message(_k8s.pod_spec_path(res), "the pod spec")]
    return []


# --- container hardening -------------------------------------------------------------------------


def _container_setting(res: Res, key: str, violates: Callable[[Any], bool], message: str) -> list[str]:
    """Check ``securityContext.<key>`` of every container of a Kubernetes workload.

    An unknown value is reported as unknown (never a pass); a value for which ``violates`` holds
    is reported as ``message`` formatted with the container's ``name``.
    """
    out = _pod_spec_unknown(res)
    for c in _k8s.containers(res):
        value = get(_sc(c), key)
        if is_unknown(value):
            out.append(unknown_message(f"{c.path}.securityContext.{key}"))
        elif violates(value):
            out.append(message.format(name=c.name))
    return out


def no_privileged(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        value = res.props.get("privileged")
        if is_unknown(value):
            return [unknown_message("privileged")]
        return ["container runs privileged (privileged=true)"] if truthy(value) else []
    return _container_setting(
        res, "privileged", truthy, 'container "{name}" runs privileged (securityContext.privileged=true)'
    )


WORKLOAD_NO_PRIVILEGED = ResourceRule(
    name="workload-no-privileged",
    pack=Pack.SECURITY,
    description="Containers must not run privileged.",
    check=no_privileged,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.CRITICAL,
    non_waivable=True,
    mappings=(
        partial(
            "cis-kubernetes:5.2.2",
            rationale="no declared container runs privileged",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        full("cis-docker:5.5", rationale="every declared container is checked for `privileged`"),
        partial(
            "nist-800-53:AC-6",
            rationale="containers get no host privileges",
            missing="least privilege also covers user and service accounts, roles and their review: not "
            "checked",
        ),
        partial(
            "iso-27001:A.8.2",
            rationale="containers get no privileged access to the host",
            missing="A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="containers cannot reach the host through privilege",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=cel.each_container(
            "variables.containers",
            "c.?securityContext.?privileged.orValue(false) == true",
            "runs privileged (securityContext.privileged=true)",
        ),
    ),
    evidence=EvidenceSelector(reads=(*ev.security_context("privileged"), "$.privileged")),
    remediation="Remove `privileged: true` (k8s securityContext / Docker `privileged`); grant the single "
    "capability the process needs instead.",
)


def no_privilege_escalation(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        opts = as_list(res.props.get("securityOpts"))
        if is_unknown(res.props.get("securityOpts")) or any(is_unknown(o) for o in opts):
            return [unknown_message("securityOpts")]
        normalized = {str(o).replace("=", ":").strip().lower() for o in opts}
        if normalized & {"no-new-privileges", "no-new-privileges:true"}:
            return []
        return ['securityOpts does not include "no-new-privileges:true"']
    return _container_setting(
        res,
        "allowPrivilegeEscalation",
        lambda value: value is not False,
        'container "{name}" does not set securityContext.allowPrivilegeEscalation=false',
    )


WORKLOAD_NO_PRIVILEGE_ESCALATION = ResourceRule(
    name="workload-no-privilege-escalation",
    pack=Pack.SECURITY,
    description="Containers must not allow privilege escalation.",
    check=no_privilege_escalation,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "cis-kubernetes:5.2.6",
            rationale="no declared container allows privilege escalation",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        full("cis-docker:5.26", rationale="every declared container is checked for `no-new-privileges`"),
        partial(
            "nist-800-53:AC-6(10)",
            rationale="processes cannot gain privileges they were not started with",
            missing="the control is about users executing privileged functions and auditing it: not checked",
        ),
        partial(
            "iso-27001:A.8.2",
            rationale="containers cannot escalate to privileged access",
            missing="A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="containers cannot escalate privileges",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=cel.each_container(
            "variables.containers",
            "c.?securityContext.?allowPrivilegeEscalation.orValue(true) != false",
            "does not set securityContext.allowPrivilegeEscalation=false",
        ),
    ),
    evidence=EvidenceSelector(reads=(*ev.security_context("allowPrivilegeEscalation"), "$.securityOpts")),
    remediation="Set `securityContext.allowPrivilegeEscalation: false` on every container; on Docker add "
    "`no-new-privileges:true` to `security_opts`.",
)


def _root_user(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name in ("", "0", "root")


def run_as_non_root(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        user = res.props.get("user")
        if is_unknown(user):
            return [unknown_message("user")]
        if not isinstance(user, str) or not user.strip():
            return ["user is not set, so the container runs as the image's default user (often root)"]
        return [f'user "{user}" is root'] if _root_user(user) else []
    out = _pod_spec_unknown(res)
    pod_sc = _pod_sc(res)
    for c in _k8s.containers(res):
        sc = _sc(c)
        non_root = get(sc, "runAsNonRoot")
        uid = get(sc, "runAsUser")
        if non_root is None:
            non_root = get(pod_sc, "runAsNonRoot")
        if uid is None:
            uid = get(pod_sc, "runAsUser")
        if is_unknown(non_root) or is_unknown(uid):
            out.append(unknown_message(f"{c.path}.securityContext.runAsNonRoot/runAsUser"))
        elif isinstance(uid, int | float) and not isinstance(uid, bool) and uid == 0:
            out.append(f'container "{c.name}" runs as UID 0 (runAsUser=0)')
        elif non_root is not True and not (
            isinstance(uid, int | float) and not isinstance(uid, bool) and uid > 0
        ):
            out.append(f'container "{c.name}" sets neither runAsNonRoot=true nor a non-zero runAsUser')
    return out


WORKLOAD_RUN_AS_NON_ROOT = ResourceRule(
    name="workload-run-as-non-root",
    pack=Pack.SECURITY,
    description="Containers must run as a non-root user.",
    check=run_as_non_root,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "cis-kubernetes:5.2.7",
            rationale="no declared container runs as root",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        full("cis-docker:4.1", rationale="every declared container names a non-root user"),
        partial(
            "nist-800-53:AC-6(2)",
            rationale="workloads run as a non-privileged account",
            missing="the control covers people's accounts for nonsecurity functions: not checked",
        ),
        partial(
            "iso-27001:A.8.2",
            rationale="containers run without root",
            missing="A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="containers run without root",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        # The container's setting, else the pod's; -1 stands for no runAsUser (the API server refuses < 0).
        violations="variables.containers.map(c, {'name': dyn(c.name), "
        "'nonRoot': dyn(c.?securityContext.?runAsNonRoot.or(variables.podSpec.?securityContext.?runAsNonRoot)"
        ".orValue(false)), "
        "'uid': "
        "dyn(c.?securityContext.?runAsUser.or(variables.podSpec.?securityContext.?runAsUser).orValue(-1))})"
        ".filter(x, x.uid == 0 || (x.nonRoot != true && !(x.uid > 0)))"
        ".map(x, x.uid == 0 ? "
        + cel.container_message("runs as UID 0 (runAsUser=0)", "x")
        + " : "
        + cel.container_message("sets neither runAsNonRoot=true nor a non-zero runAsUser", "x")
        + ")",
    ),
    evidence=EvidenceSelector(
        reads=(
            *ev.security_context("runAsNonRoot"),
            *ev.security_context("runAsUser"),
            "$.user",
        )
    ),
    remediation="Set `runAsNonRoot: true` and a non-zero `runAsUser` (pod or container securityContext); on "
    "Docker set `user` to a non-root UID such as `10001:10001`.",
)


def read_only_root_filesystem(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        value = res.props.get("readOnly")
        if is_unknown(value):
            return [unknown_message("readOnly")]
        return [] if value is True else ["root filesystem is writable (readOnly is not true)"]
    return _container_setting(
        res,
        "readOnlyRootFilesystem",
        lambda value: value is not True,
        'container "{name}" does not set securityContext.readOnlyRootFilesystem=true',
    )


WORKLOAD_READ_ONLY_ROOT_FILESYSTEM = ResourceRule(
    name="workload-read-only-root-filesystem",
    pack=Pack.SECURITY,
    description="Containers must run with a read-only root filesystem.",
    check=read_only_root_filesystem,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        full("cis-docker:5.13", rationale="every declared container mounts its root filesystem read-only"),
        partial(
            "cis-kubernetes:5.7.3",
            rationale="one securityContext setting (readOnlyRootFilesystem) on every pod",
            missing="the control asks for a securityContext fitted to each workload; the other settings are "
            "other rules' and a fit is a review, not checked",
        ),
        partial(
            "nist-800-53:CM-7",
            rationale="containers cannot change their own software",
            missing="least functionality also covers ports, protocols and services in use and their review: "
            "not checked",
        ),
        partial(
            "iso-27001:A.8.9",
            rationale="the running image cannot be altered in place",
            missing="A.8.9 asks for documented, monitored and reviewed configurations: not checked",
        ),
        partial(
            "soc2:CC6.8",
            rationale="malicious software cannot be written into the image's filesystem",
            missing="CC6.8 also covers malware detection and change detection at run time: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=cel.each_container(
            "variables.containers",
            "c.?securityContext.?readOnlyRootFilesystem.orValue(false) != true",
            "does not set securityContext.readOnlyRootFilesystem=true",
        ),
    ),
    evidence=EvidenceSelector(reads=(*ev.security_context("readOnlyRootFilesystem"), "$.readOnly")),
    remediation="Set `readOnlyRootFilesystem: true` (Docker `read_only=True`) and mount an `emptyDir`/tmpfs "
    "for the paths the process writes.",
)


def _cap(name: Any) -> str:
    return str(name).upper().removeprefix("CAP_")


def drop_all_capabilities(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        drops = get(res.props, "capabilities", "drops")
        if is_unknown(drops) or any(is_unknown(d) for d in as_list(drops)):
            return [unknown_message("capabilities.drops")]
        return (
            []
            if "ALL" in {_cap(d) for d in as_list(drops)}
            else ['capabilities.drops does not include "ALL"']
        )
    out = _pod_spec_unknown(res)
    for c in _k8s.containers(res):
        drops = get(_sc(c), "capabilities", "drop")
        if is_unknown(drops) or any(is_unknown(d) for d in as_list(drops)):
            out.append(unknown_message(f"{c.path}.securityContext.capabilities.drop"))
        elif "ALL" not in {_cap(d) for d in as_list(drops)}:
            out.append(f'container "{c.name}" does not drop ALL capabilities')
    return out


WORKLOAD_DROP_ALL_CAPABILITIES = ResourceRule(
    name="workload-drop-all-capabilities",
    pack=Pack.SECURITY,
    description="Containers must drop all Linux capabilities.",
    check=drop_all_capabilities,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        partial(
            "cis-kubernetes:5.2.10",
            rationale="every declared container drops all capabilities",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        full(
            "cis-docker:5.4",
            rationale="every declared container drops all capabilities (with workload-no-added-capabilities "
            "for what is added back)",
        ),
        partial(
            "nist-800-53:AC-6",
            rationale="containers hold no kernel capabilities by default",
            missing="least privilege also covers user and service accounts, roles and their review: not "
            "checked",
        ),
        partial(
            "iso-27001:A.8.2",
            rationale="containers hold no privileged kernel capabilities",
            missing="A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="containers hold no kernel capabilities",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=cel.each_container(
            "variables.containers",
            "!c.?securityContext.?capabilities.?drop.orValue([]).exists(d, d.upperAscii() in ['ALL', "
            "'CAP_ALL'])",
            "does not drop ALL capabilities",
        ),
    ),
    evidence=EvidenceSelector(reads=(*ev.security_context("capabilities.drop"), "$.capabilities.drops")),
    remediation="Add `ALL` to `securityContext.capabilities.drop` (Docker `capabilities.drops`) and add "
    "back only what is allowed.",
)


def no_added_capabilities(res: Res, cfg: Config) -> list[str]:
    allowed = {_cap(c) for c in cfg_list(cfg, "allowedCapabilities")}
    if res.type == _docker.CONTAINER:
        adds = get(res.props, "capabilities", "adds")
        if is_unknown(adds):
            return [unknown_message("capabilities.adds")]
        return [
            unknown_message("capabilities.adds") if is_unknown(a) else f"container adds capability {_cap(a)}"
            for a in as_list(adds)
            if is_unknown(a) or _cap(a) not in allowed
        ]
    out = _pod_spec_unknown(res)
    for c in _k8s.containers(res):
        adds = get(_sc(c), "capabilities", "add")
        if is_unknown(adds):
            out.append(unknown_message(f"{c.path}.securityContext.capabilities.add"))
            continue
        for a in as_list(adds):
            if is_unknown(a):
                out.append(unknown_message(f"{c.path}.securityContext.capabilities.add"))
            elif _cap(a) not in allowed:
                out.append(f'container "{c.name}" adds capability {_cap(a)}')
    return out


WORKLOAD_NO_ADDED_CAPABILITIES = ResourceRule(
    name="workload-no-added-capabilities",
    pack=Pack.SECURITY,
    description="Containers may add only allow-listed Linux capabilities.",
    check=no_added_capabilities,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "cis-kubernetes:5.2.9",
            rationale="declared containers add only allow-listed capabilities",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        full(
            "cis-docker:5.4",
            rationale="every declared container adds back only allow-listed capabilities (with "
            "workload-drop-all-capabilities)",
        ),
        partial(
            "nist-800-53:AC-6",
            rationale="capabilities are granted by exception only",
            missing="least privilege also covers user and service accounts, roles and their review: not "
            "checked",
        ),
        partial(
            "iso-27001:A.8.2",
            rationale="privileged capabilities are allow-listed",
            missing="A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="capabilities are allow-listed",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=lambda cfg: (
            "variables.containers.map(c, c.?securityContext.?capabilities.?add.orValue([])"
            ".map(a, a.upperAscii().startsWith('CAP_') ? a.upperAscii().substring(4) : a.upperAscii())"
            f".filter(a, !(a in {cel.lit(sorted({_cap(x) for x in cfg_list(cfg, 'allowedCapabilities')}))}))"
            f".map(a, {cel.container_message('adds capability ')} + a)).flatten()"
        ),
    ),
    evidence=EvidenceSelector(reads=(*ev.security_context("capabilities.add"), "$.capabilities.adds")),
    schema={"allowedCapabilities": {**STRING_LIST, "default": ["NET_BIND_SERVICE"]}},
    remediation="Remove capabilities from `capabilities.add`/`adds` that are not in `allowedCapabilities`.",
)


def no_host_namespaces(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        out = []
        for key, ns in (
            ("networkMode", "network"),
            ("pidMode", "PID"),
            ("ipcMode", "IPC"),
            ("usernsMode", "user"),
        ):
            value = res.props.get(key)
            if is_unknown(value):
                out.append(unknown_message(key))
            elif isinstance(value, str) and value.strip().lower() == "host":
                out.append(f'container shares the host {ns} namespace ({key}="host")')
        return out
    out = _pod_spec_unknown(res)
    spec = _k8s.pod_spec(res)
    for key, ns in (("hostNetwork", "network"), ("hostPID", "PID"), ("hostIPC", "IPC")):
        value = get(spec, key)
        if is_unknown(value):
            out.append(unknown_message(f"{_k8s.pod_spec_path(res)}.{key}"))
        elif truthy(value):
            out.append(f"pod shares the host {ns} namespace ({key}=true)")
    return out


WORKLOAD_NO_HOST_NAMESPACES = ResourceRule(
    name="workload-no-host-namespaces",
    pack=Pack.SECURITY,
    description="Workloads must not share the host's network, PID or IPC namespace.",
    check=no_host_namespaces,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.CRITICAL,
    non_waivable=True,
    mappings=(
        partial(
            "cis-kubernetes:5.2.5",
            rationale="no declared pod shares the host network",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        partial(
            "cis-kubernetes:5.2.3",
            rationale="no declared pod shares the host PID namespace",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        partial(
            "cis-kubernetes:5.2.4",
            rationale="no declared pod shares the host IPC namespace",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        full("cis-docker:5.10", rationale="every declared container is checked for host network mode"),
        full("cis-docker:5.16", rationale="every declared container is checked for host PID mode"),
        full("cis-docker:5.17", rationale="every declared container is checked for host IPC mode"),
        partial(
            "nist-800-53:SC-39",
            rationale="workloads keep their own process, network and IPC namespaces",
            missing="process isolation also rests on the runtime and kernel, which are not checked",
        ),
        partial(
            "iso-27001:A.8.22",
            rationale="workloads are kept off the host's network",
            missing="segregation of networks into domains and its review: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="workloads cannot see the host's processes or network",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations="[['hostNetwork', 'network'], ['hostPID', 'PID'], ['hostIPC', 'IPC']]"
        ".filter(p, variables.podSpec[?p[0]].orValue(false) == true)"
        ".map(p, 'pod shares the host ' + p[1] + ' namespace (' + p[0] + '=true)')",
    ),
    evidence=EvidenceSelector(
        reads=(
            *ev.pod("hostNetwork", "hostPID", "hostIPC"),
            "$.networkMode",
            "$.pidMode",
            "$.ipcMode",
        )
    ),
    remediation="Remove `hostNetwork`/`hostPID`/`hostIPC`; on Docker do not use `network_mode`, `pid_mode` "
    "or `ipc_mode` `host`.",
)


def _docker_host_mounts(res: Res) -> Iterator[tuple[str, Any]]:
    """``(where, host path)`` of every bind mount of a Docker container."""
    for i, vol in enumerate(as_list(res.props.get("volumes"))):
        host = get(vol, "hostPath")
        if host is not None:
            yield f"volumes[{i}].hostPath", host
    for i, mount in enumerate(as_list(res.props.get("mounts"))):
        kind = get(mount, "type")
        if is_unknown(kind) or kind == "bind":
            yield f"mounts[{i}].source", get(mount, "source")


def _k8s_host_paths(res: Res) -> Iterator[tuple[str, Any]]:
    spec = _k8s.pod_spec(res)
    for i, vol in enumerate(as_list(get(spec, "volumes"))):
        host = get(vol, "hostPath")
        if host is not None:
            name = get(vol, "name")
            yield (
                f'volume "{name}"' if isinstance(name, str) else f"volumes[{i}]",
                get(host, "path"),
            )


def _socket(path: Any) -> bool:
    return isinstance(path, str) and (path.rstrip("/") in _RUNTIME_SOCKETS or path.endswith((".sock",)))


def no_host_path_mounts(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        return [
            unknown_message(where) if is_unknown(host) else f'{where} bind-mounts host path "{host}"'
            for where, host in _docker_host_mounts(res)
        ]
    return _pod_spec_unknown(res) + [
        unknown_message(f"{where}.hostPath.path") if is_unknown(path) else f'{where} mounts hostPath "{path}"'
        for where, path in _k8s_host_paths(res)
    ]


WORKLOAD_NO_HOST_PATH_MOUNTS = ResourceRule(
    name="workload-no-host-path-mounts",
    pack=Pack.SECURITY,
    description="Workloads must not mount host paths.",
    check=no_host_path_mounts,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "cis-kubernetes:5.2.12",
            rationale="no declared pod mounts a hostPath",
            missing="the control asks each namespace's admission policy (Pod Security Admission) to refuse "
            "such pods; the cluster's admission configuration is not checked",
        ),
        full("cis-docker:5.6", rationale="no declared container bind-mounts a host directory"),
        partial(
            "nist-800-53:AC-6",
            rationale="workloads cannot read the host's files",
            missing="least privilege also covers user and service accounts, roles and their review: not "
            "checked",
        ),
        partial(
            "iso-27001:A.8.3",
            rationale="workloads cannot read the host's files",
            missing="A.8.3 asks for access to information restricted by an access-control policy: not "
            "checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="workloads cannot read the host's files",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations="variables.podSpec.?volumes.orValue([]).filter(v, has(v.hostPath))"
        ".map(v, 'volume \"' + v.name + '\" mounts hostPath \"' + v.hostPath.?path.orValue('None') + '\"')",
    ),
    evidence=EvidenceSelector(reads=ev.HOST_MOUNTS),
    remediation="Replace `hostPath` volumes and Docker bind mounts with PersistentVolumeClaims / named "
    "volumes.",
)


def no_runtime_socket_mount(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        mounts = list(_docker_host_mounts(res))
        return [
            unknown_message(where, "whether it is a container runtime socket")
            if is_unknown(host)
            else f'{where} mounts the container runtime socket "{host}"'
            for where, host in mounts
            if is_unknown(host) or _socket(host)
        ]
    return _pod_spec_unknown(res) + [
        unknown_message(f"{where}.hostPath.path", "whether it is a container runtime socket")
        if is_unknown(path)
        else f'{where} mounts the container runtime socket "{path}"'
        for where, path in _k8s_host_paths(res)
        if is_unknown(path) or _socket(path)
    ]


WORKLOAD_NO_RUNTIME_SOCKET_MOUNT = ResourceRule(
    name="workload-no-runtime-socket-mount",
    pack=Pack.SECURITY,
    description="Workloads must not mount the container runtime socket.",
    check=no_runtime_socket_mount,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.CRITICAL,
    non_waivable=True,
    mappings=(
        full("cis-docker:5.32", rationale="no declared container mounts a container runtime socket"),
        partial(
            "cis-kubernetes:5.2.12",
            rationale="no declared pod mounts the runtime socket (one kind of hostPath)",
            missing="the rule looks only for runtime sockets, not every hostPath; and the control asks each "
            "namespace's admission policy (Pod Security Admission) to refuse such pods; the cluster's "
            "admission configuration is not checked",
        ),
        partial(
            "nist-800-53:AC-6",
            rationale="workloads cannot drive the container runtime",
            missing="least privilege also covers user and service accounts, roles and their review: not "
            "checked",
        ),
        partial(
            "iso-27001:A.8.18",
            rationale="the runtime socket, a privileged utility, is out of workloads' reach",
            missing="A.8.18 asks for the use of utility programs to be restricted and controlled overall: "
            "not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="workloads cannot take over the host through the runtime",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations="variables.podSpec.?volumes.orValue([]).filter(v, has(v.hostPath) && "
        f"(v.hostPath.?path.orValue('').matches({cel.lit(_SOCKET_RE)}) || "
        "v.hostPath.?path.orValue('').endsWith('.sock')))"
        ".map(v, 'volume \"' + v.name + '\" mounts the container runtime socket \"' + v.hostPath.path + "
        "'\"')",
    ),
    evidence=EvidenceSelector(reads=ev.HOST_MOUNTS),
    remediation="Never mount docker.sock/containerd.sock into a container: it is root on the host. Use the "
    "Kubernetes API or a rootless builder instead.",
)


def seccomp_runtime_default(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        opts = as_list(res.props.get("securityOpts"))
        if is_unknown(res.props.get("securityOpts")) or any(is_unknown(o) for o in opts):
            return [unknown_message("securityOpts")]
        for opt in opts:
            if str(opt).replace("=", ":").strip().lower() == "seccomp:unconfined":
                return [f'securityOpts disables the default seccomp profile ("{opt}")']
        return []
    out = _pod_spec_unknown(res)
    pod_type = get(_pod_sc(res), "seccompProfile", "type")
    for c in _k8s.containers(res):
        ctype = get(_sc(c), "seccompProfile", "type")
        effective = pod_type if ctype is None else ctype
        if is_unknown(effective):
            out.append(unknown_message(f"{c.path}.securityContext.seccompProfile.type"))
        elif effective not in ("RuntimeDefault", "Localhost"):
            shown = "not set" if effective is None else f'"{effective}"'
            out.append(
                f'container "{c.name}" seccompProfile.type is {shown}; expected RuntimeDefault or Localhost'
            )
    return out


WORKLOAD_SECCOMP_RUNTIME_DEFAULT = ResourceRule(
    name="workload-seccomp-runtime-default",
    pack=Pack.SECURITY,
    description="Workloads must run under the RuntimeDefault seccomp profile.",
    check=seccomp_runtime_default,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        full(
            "cis-kubernetes:5.7.2",
            rationale="every declared pod runs under the RuntimeDefault seccomp profile",
        ),
        full("cis-docker:5.22", rationale="no declared container disables seccomp"),
        partial(
            "nist-800-53:CM-7",
            rationale="system calls are restricted to the runtime's default set",
            missing="least functionality also covers ports, protocols and services in use and their review: "
            "not checked",
        ),
        partial(
            "iso-27001:A.8.9",
            rationale="a secure seccomp baseline is part of every workload's configuration",
            missing="A.8.9 asks for documented, monitored and reviewed configurations: not checked",
        ),
        partial(
            "soc2:CC6.8",
            rationale="seccomp limits what malicious code can call",
            missing="CC6.8 also covers malware detection and change detection at run time: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations="variables.containers.map(c, {'name': dyn(c.name), 'type': "
        "dyn(c.?securityContext.?seccompProfile"
        ".?type.or(variables.podSpec.?securityContext.?seccompProfile.?type).orValue(''))})"
        ".filter(x, !(x.type in ['RuntimeDefault', 'Localhost']))"
        ".map(x, 'container \"' + x.name + '\" seccompProfile.type is ' + "
        "(x.type == '' ? 'not set' : '\"' + x.type + '\"') + '; expected RuntimeDefault or Localhost')",
    ),
    evidence=EvidenceSelector(reads=(*ev.security_context("seccompProfile.type"), "$.securityOpts")),
    remediation="Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod; on Docker never pass "
    "`seccomp=unconfined`.",
)


def _automount(res: Res) -> Any:
    return res.props.get("automountServiceAccountToken")


def no_service_account_token(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    """Stack rule: no pod gets a service-account token mounted, judged with its ServiceAccount.

    A pod's ``automountServiceAccountToken`` wins when set; unset, its ServiceAccount's decides
    (``serviceAccountName``, else ``default``, in the pod's namespace), and an account the stack does
    not declare mounts the token (the Kubernetes default). Every declared ServiceAccount must set
    ``false`` itself as well, so that pods which do not say inherit no token.
    """
    accounts = {
        (hkey(_k8s.namespace_of(r)), hkey(_k8s.name_of(r))): r
        for r in resources
        if r.type == _k8s.SERVICE_ACCOUNT
    }
    out: list[tuple[str, str]] = []
    for res in resources:
        if res.type == _k8s.SERVICE_ACCOUNT:
            value = _automount(res)
            if is_unknown(value):
                out.append((res.urn, f"{res.label}: " + unknown_message("automountServiceAccountToken")))
            elif value is not False:
                out.append(
                    (res.urn, f"{res.label}: ServiceAccount does not set automountServiceAccountToken=false")
                )
        elif _k8s.is_workload(res):
            message = _pod_token(res, accounts)
            if message:
                out.append((res.urn, f"{res.label}: {message}"))
    return out


WORKLOAD_NO_SERVICE_ACCOUNT_TOKEN = StackRule(
    name="workload-no-service-account-token",
    pack=Pack.SECURITY,
    description="Pods must not automount a service-account token (the pod's setting, else its "
    "ServiceAccount's).",
    check=no_service_account_token,
    applies_to=scope.SERVICE_ACCOUNT_TOKEN,
    targets=K8S,
    severity=Severity.MEDIUM,
    mappings=(
        full(
            "cis-kubernetes:5.1.6",
            rationale="every declared pod, or its ServiceAccount, turns the token automount off",
        ),
        partial(
            "nist-800-53:AC-6",
            rationale="pods get no API credential they do not need",
            missing="least privilege also covers user and service accounts, roles and their review: not "
            "checked",
        ),
        partial(
            "iso-27001:A.8.5",
            rationale="API credentials are not handed to pods by default",
            missing="secure authentication (methods, MFA, session handling) is not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="pods hold no API credential by default",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=NotInCel(
        "a pod that does not say inherits its ServiceAccount's setting: the rule reads the pod and the "
        "ServiceAccount it names together, and an admission policy sees one object (no lookups)"
    ),
    evidence=EvidenceSelector(
        reads=(
            *ev.pod("automountServiceAccountToken"),
            "$.automountServiceAccountToken",
        )
    ),
    remediation="Set `automountServiceAccountToken: false` on the pod spec and ServiceAccount; mount a "
    "projected token only in pods that call the API. A pod that does not say inherits its ServiceAccount's "
    "setting, and an account the stack does not declare (such as `default`) mounts the token.",
)


def _pod_token(res: Res, accounts: dict[tuple[Any, Any], Res]) -> str | None:
    spec = _k8s.pod_spec(res)
    path = _k8s.pod_spec_path(res)
    if is_unknown(spec):
        return unknown_message(path, "the pod spec")
    value = get(spec, "automountServiceAccountToken")
    if is_unknown(value):
        return unknown_message(f"{path}.automountServiceAccountToken")
    if value is False:
        return None
    if value is not None:
        return "pod spec sets automountServiceAccountToken=true"
    name = get(spec, "serviceAccountName")
    if name is None:
        name = get(spec, "serviceAccount")  # the deprecated alias Kubernetes still honours
    name = "default" if name is None else name
    ns = _k8s.namespace_of(res)
    if is_unknown(name) or is_unknown(ns):
        return unknown_message(f"{path}.serviceAccountName", "which ServiceAccount mounts the token")
    account = accounts.get((hkey(ns), hkey(name)))
    if account is None:
        return (
            f'pod spec does not set automountServiceAccountToken=false and its ServiceAccount "{name}" '
            "is not declared in the stack, so Kubernetes mounts the token"
        )
    account_value = _automount(account)
    if is_unknown(account_value):
        return unknown_message(f'ServiceAccount "{name}" automountServiceAccountToken')
    if account_value is False:
        return None
    return f'neither the pod spec nor its ServiceAccount "{name}" sets automountServiceAccountToken=false'


# --- images ------------------------------------------------------------------------------------


def _images(res: Res) -> Iterator[tuple[str, Any]]:
    """``(where, image reference)`` for containers, k8s workloads and Docker RemoteImages."""
    if res.type == _docker.CONTAINER:
        yield "image", res.props.get("image")
    elif res.type == _docker.REMOTE_IMAGE:
        yield "name", res.props.get("name")
    elif _k8s.is_workload(res):
        for c in _k8s.containers(res):
            yield f'container "{c.name}"', c.spec.get("image")


def declared_images(res: Res) -> list[tuple[str, str]]:
    """``(where, reference)`` of every image ``res`` names by a known, non-empty reference.

    Unknown and missing references are the image rules' findings (``_image_checks``); a local image
    ID names no registry.
    """
    out = []
    for where, ref in _images(res):
        if isinstance(ref, str) and ref.strip() and not _IMAGE_ID_RE.match(ref.strip()):
            out.append((where, ref.strip()))
    return out


def _image_checks(res: Res, check: Any) -> list[str]:
    out = [] if res.type in (_docker.CONTAINER, _docker.REMOTE_IMAGE) else _pod_spec_unknown(res)
    for where, ref in _images(res):
        if is_unknown(ref):
            out.append(unknown_message(f"{where} image"))
        elif not isinstance(ref, str) or not ref.strip():
            out.append(f"{where} has no image")
        elif _IMAGE_ID_RE.match(ref.strip()):
            continue  # a local image ID (Container.image = RemoteImage.image_id): checked on the RemoteImage
        else:
            msg = check(where, ref.strip())
            if msg:
                out.append(msg)
    return out


# Tags that registries move by convention: a branch head (main, master, develop), a channel (stable,
# edge, nightly, canary, dev, beta, rolling), or latest itself. An image under one is a different image
# tomorrow.
MUTABLE_TAGS = frozenset(
    {"latest", "main", "master", "develop", "dev", "stable", "edge", "nightly", "canary", "beta", "rolling"}
)


def image_no_latest_tag(res: Res, cfg: Config) -> list[str]:
    def check(where: str, ref: str) -> str | None:
        image = parse_image(ref)
        if image.digest:
            return None
        if image.tag is None:
            return f'{where} image "{ref}" has no tag (resolves to "latest")'
        if image.tag in MUTABLE_TAGS:
            return f'{where} image "{ref}" uses the mutable "{image.tag}" tag'
        return None

    return _image_checks(res, check)


IMAGE_NO_LATEST_TAG = ResourceRule(
    name="image-no-latest-tag",
    pack=Pack.SECURITY,
    description="Images must carry an explicit, immutable tag or digest.",
    check=image_no_latest_tag,
    applies_to=scope.IMAGES,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "cis-docker:5.28",
            rationale="images are named by an explicit tag or digest, never `latest`",
            missing="the control asks that the current image be pulled rather than a stale local copy used: "
            "a run-time practice, not checked",
        ),
        partial(
            "nist-800-53:CM-2",
            rationale="the image in the baseline is named, not a moving `latest`",
            missing="a documented, reviewed baseline configuration: not checked",
        ),
        partial(
            "iso-27001:A.8.32",
            rationale="a change of image is a change of configuration",
            missing="the change-management process (approval, testing) is not checked",
        ),
        partial(
            "soc2:CC8.1",
            rationale="image changes show in the declared configuration",
            missing="authorisation and approval of changes are not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations="variables.images.filter(x, x.ref == '' || (!x.id && x.digest == '' && "
        f"(x.tag == '' || x.tag in {cel.lit(sorted(MUTABLE_TAGS))})))"
        ".map(x, x.ref == '' ? x.where + ' has no image' : (x.tag == '' ? "
        "x.where + ' image \"' + x.ref + '\" has no tag (resolves to \"latest\")' : "
        "x.where + ' image \"' + x.ref + '\" uses the mutable \"' + x.tag + '\" tag'))",
    ),
    evidence=EvidenceSelector(reads=ev.IMAGES),
    remediation="Reference images as `registry/repo:<version>` (never untagged, `latest` or another tag "
    "registries move: `main`, `master`, `develop`, `dev`, `stable`, `edge`, `nightly`, `canary`, `beta`, "
    "`rolling`), or by digest.",
)


def image_digest_pinned(res: Res, cfg: Config) -> list[str]:
    if cfg.get("requireDigest") is False:
        return []

    def check(where: str, ref: str) -> str | None:
        image = parse_image(ref)
        if image.digest is None:
            return f'{where} image "{ref}" is not pinned by digest (@sha256:...)'
        if not image.digest_valid:
            return f'{where} image "{ref}" has a malformed digest'
        return None

    return _image_checks(res, check)


IMAGE_DIGEST_PINNED = ResourceRule(
    name="image-digest-pinned",
    pack=Pack.SECURITY,
    description="Images must be pinned by digest where the tier requires it.",
    check=image_digest_pinned,
    applies_to=scope.IMAGES,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "nist-800-53:SI-7",
            rationale="each image reference is pinned to a content digest",
            missing="that the digest exists, and integrity verification of software (signatures, checks at "
            "run time), is not shown by a pin",
        ),
        partial(
            "iso-27001:A.8.19",
            rationale="the software installed is the exact content named",
            missing="procedures to control installation (approval, signed sources) are not checked",
        ),
        partial(
            "soc2:CC8.1",
            rationale="a change of image needs a change of the declared digest",
            missing="authorisation and approval of changes are not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=lambda cfg: (
            "[]"
            if cfg.get("requireDigest") is False
            else "variables.images.filter(x, x.ref == '' || (!x.id && "
            "(x.digest == '' || !x.digest.matches('^sha256:[0-9a-f]{64}$'))))"
            ".map(x, x.ref == '' ? x.where + ' has no image' : (x.digest == '' ? "
            "x.where + ' image \"' + x.ref + '\" is not pinned by digest (@sha256:...)' : "
            "x.where + ' image \"' + x.ref + '\" has a malformed digest'))"
        ),
    ),
    evidence=EvidenceSelector(reads=ev.IMAGES),
    schema={"requireDigest": {"type": "boolean", "default": True}},
    knobs=per_tier(requireDigest=(False, False, True)),
    remediation="Append `@sha256:<digest>` to every image reference (resolve it with `crane digest` or "
    "`docker buildx imagetools inspect`).",
)


def image_approved_registry(res: Res, cfg: Config) -> list[str]:
    allowed = cfg_list(cfg, "allowedRegistries")

    def check(where: str, ref: str) -> str | None:
        image = parse_image(ref)
        if registry_allowed(image, allowed):
            return None
        approved = ", ".join(allowed) or "none configured"
        return f'{where} image "{ref}" is not from an approved registry ({approved})'

    return _image_checks(res, check)


IMAGE_APPROVED_REGISTRY = ResourceRule(
    name="image-approved-registry",
    pack=Pack.SECURITY,
    description="Images must come from an approved registry.",
    check=image_approved_registry,
    applies_to=scope.REGISTRIES,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "cis-kubernetes:5.5.1",
            rationale="a design-time allowlist of registries over the declared images",
            missing="the control asks for the ImagePolicyWebhook admission controller on the cluster: not "
            "checked",
        ),
        partial(
            "cis-docker:4.2",
            rationale="images come only from reviewed registries",
            missing="the control asks that each base image be trusted (built, scanned, verified): not "
            "checked",
        ),
        partial(
            "nist-800-53:SR-3",
            rationale="image sources are restricted to approved suppliers",
            missing="supply-chain processes and controls of the suppliers themselves: not checked",
        ),
        partial(
            "nist-800-53:CM-7(5)",
            rationale="only software from allow-listed registries is declared",
            missing="the control allow-lists software programs and reviews the list: not checked",
        ),
        partial(
            "iso-27001:A.8.19",
            rationale="software is installed only from approved sources",
            missing="procedures controlling installation on operational systems: not checked",
        ),
        partial(
            "soc2:CC6.8",
            rationale="unapproved image sources are refused",
            missing="CC6.8 also covers malware detection and change detection at run time: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=lambda cfg: (
            "[]"  # no registries configured: the rule applies nowhere
            if not cfg_list(cfg, "allowedRegistries")
            else "variables.images.filter(x, x.ref == '' || (!x.id && "
            f"!{cel.lit([p.rstrip('/') for p in cfg_list(cfg, 'allowedRegistries')])}.exists(p, "
            "x.registry + '/' + x.repository == p || (x.registry + '/' + x.repository).startsWith(p + '/') "
            "|| "
            "x.registry == p)))"
            ".map(x, x.ref == '' ? x.where + ' has no image' : x.where + ' image \"' + x.ref + '\"' + "
            + cel.lit(f" is not from an approved registry ({', '.join(cfg_list(cfg, 'allowedRegistries'))})")
            + ")"
        ),
    ),
    evidence=EvidenceSelector(reads=ev.IMAGES),
    schema={"allowedRegistries": {**STRING_LIST, "default": []}},
    knobs=per_tier(allowedRegistries=(APPROVED_REGISTRIES, APPROVED_REGISTRIES, APPROVED_REGISTRIES)),
    remediation="Mirror the image into an approved registry, or add the registry (with its repository "
    "prefix) to `allowedRegistries` after review. Without `allowedRegistries` in the pack config the rule "
    "applies nowhere (the platform's configs name its registries).",
)


# --- secrets -----------------------------------------------------------------------------------

_SECRETS_NOT_IN_CEL = NotInCel(
    "credential formats are recognised by detect-secrets' detectors (a JWT must decode to JSON, private "
    "key headers of every kind, per-provider token formats): CEL has no such library"
)


def secret_no_plaintext_env(res: Res, cfg: Config) -> list[str]:
    out: list[str] = []
    if res.type == _docker.CONTAINER:
        envs = res.props.get("envs")
        if is_unknown(envs):
            return [unknown_message("envs", "whether it holds plaintext secrets")]
        # The Analyzer protocol strips the secret marker from inputs, so the only signal a policy can
        # see that env values are handled as secrets is ``envs`` in additionalSecretOutputs.
        protected = "envs" in res.secret_outputs
        for _index, name, value in _docker.envs(res):
            if is_unknown(name):
                continue  # a whole entry computed from another output: not a literal in code
            if secret_name(name) and not protected and isinstance(value, str) and value:
                out.append(
                    f'env var {name} looks like a secret but "envs" is not marked secret '
                    '(wrap the value in Output.secret and set additional_secret_outputs=["envs"])'
                )
            elif isinstance(value, str) and not protected and (kind := _common.secret_value_kind(value)):
                out.append(f"env var {name} holds a value that looks like a credential ({kind})")
        return out
    if not _k8s.is_workload(res):
        return []
    out = _pod_spec_unknown(res)
    for c in _k8s.containers(res):
        for env in as_list(c.spec.get("env")):
            name, value = get(env, "name"), get(env, "value")
            if not isinstance(name, str) or value is None or is_unknown(value):
                continue
            text = value if isinstance(value, str) else str(value)
            if secret_name(name) and text and not _common.names_a_secret(name, text):
                out.append(
                    f'container "{c.name}" sets secret-looking env var {name} from a literal value; '
                    "use valueFrom.secretKeyRef"
                )
            elif kind := _common.secret_value_kind(text):
                out.append(
                    f'container "{c.name}" env var {name} holds a value that looks like a credential ({kind})'
                )
    return out


SECRET_NO_PLAINTEXT_ENV = ResourceRule(
    name="secret-no-plaintext-env",
    pack=Pack.SECURITY,
    description="Secrets must not be passed as plaintext environment variables.",
    check=secret_no_plaintext_env,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.CRITICAL,
    non_waivable=True,
    mappings=(
        partial(
            "cis-kubernetes:5.4.1",
            rationale="no credential is written in plain text into an environment variable",
            missing="the control prefers secrets mounted as files over any environment variable, "
            "secretKeyRef included, which this rule allows",
        ),
        partial(
            "cis-docker:4.10",
            rationale="no credential is passed in plain text through a container's environment",
            missing="the control is about Dockerfiles (image build), which are not checked",
        ),
        partial(
            "nist-800-53:IA-5(7)",
            rationale="no static credential is embedded in environment variables",
            missing="detection is by known credential patterns; other static storage (images, code) is not "
            "checked",
        ),
        partial(
            "nist-800-53:SC-28",
            rationale="credentials in environment variables are references to secrets",
            missing="encryption at rest of the secrets store and of data: not checked",
        ),
        partial(
            "iso-27001:A.5.17",
            rationale="credentials are not handed out in plain text",
            missing="allocation and management of authentication information: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="credentials are not exposed in workload definitions",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=_SECRETS_NOT_IN_CEL,
    evidence=EvidenceSelector(
        reads=(
            *ev.containers("env[*].name", "env[*].valueFrom.secretKeyRef.name", "envFrom[*].secretRef.name"),
            "option:additional_secret_outputs",
        )
    ),
    remediation="On Kubernetes use `env[].valueFrom.secretKeyRef`; on Docker wrap the value in "
    "`Output.secret` and set "
    '`additional_secret_outputs=["envs"]`. Rotate any credential that was committed.',
)


def secret_no_plaintext_config(res: Res, cfg: Config) -> list[str]:
    out: list[str] = []
    if res.type == _k8s.CONFIG_MAP:
        data = res.props.get("data")
        if is_unknown(data):
            return [unknown_message("data", "whether it holds plaintext secrets")]
        for key, value in as_dict(data).items():
            if is_unknown(value) or not isinstance(value, str):
                continue
            if secret_name(key) and value.strip():
                out.append(f'ConfigMap key "{key}" looks like a secret; store it in a Secret')
            elif kind := _common.secret_value_kind(value, config_file=True):
                out.append(f'ConfigMap key "{key}" holds a value that looks like a credential ({kind})')
        return out
    if res.type == _docker.CONTAINER:
        for i, upload in enumerate(as_list(res.props.get("uploads"))):
            content = get(upload, "content")
            target = get(upload, "file")
            where = f'upload "{target}"' if isinstance(target, str) else f"uploads[{i}]"
            if is_unknown(content) or not isinstance(content, str):
                continue
            if "uploads" in res.secret_outputs:
                continue
            if kind := _common.secret_value_kind(content, config_file=True):
                out.append(f"{where} holds a value that looks like a credential ({kind})")
    return out


SECRET_NO_PLAINTEXT_CONFIG = ResourceRule(
    name="secret-no-plaintext-config",
    pack=Pack.SECURITY,
    description="ConfigMaps and uploaded config files must not contain secrets.",
    check=secret_no_plaintext_config,
    applies_to=scope.CONFIG_FILES,
    targets=BOTH,
    severity=Severity.CRITICAL,
    non_waivable=True,
    mappings=(
        partial(
            "cis-kubernetes:5.4.1",
            rationale="ConfigMaps and uploaded config files hold no credential",
            missing="the control is about how pods consume Secrets (files over environment variables): not "
            "checked here",
        ),
        partial(
            "nist-800-53:IA-5(7)",
            rationale="no static credential is embedded in config files",
            missing="detection is by known credential patterns; other static storage (images, code) is not "
            "checked",
        ),
        partial(
            "nist-800-53:SC-28",
            rationale="credentials stay out of unencrypted config objects",
            missing="encryption at rest of the secrets store and of data: not checked",
        ),
        partial(
            "iso-27001:A.5.17",
            rationale="credentials are not stored in plain config",
            missing="allocation and management of authentication information: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="credentials are not exposed in config objects",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=_SECRETS_NOT_IN_CEL,
    evidence=EvidenceSelector(reads=("$.data.~", "$.uploads[*].file")),
    remediation="Move the value into a Kubernetes Secret (or a secret Docker upload) and reference it; "
    "rotate it.",
)


def secret_no_plaintext_metadata(res: Res, cfg: Config) -> list[str]:
    if not _common.labelable(res):
        return []
    sources: list[tuple[str, Any]] = []
    if res.is_docker:
        sources.append(("label", _common.object_labels(res)))
    else:
        sources += [
            ("label", _k8s.object_labels(res)),
            ("annotation", _k8s.object_annotations(res)),
        ]
        if _k8s.is_workload(res):
            template = _k8s.pod_template(res)
            sources += [
                ("pod template label", get(template, "metadata", "labels")),
                ("pod template annotation", get(template, "metadata", "annotations")),
            ]
    out: list[str] = []
    for what, mapping in sources:
        if is_unknown(mapping):
            out.append(unknown_message(f"{what}s", "whether they hold plaintext secrets"))
            continue
        for key, value in as_dict(mapping).items():
            if is_unknown(value) or not isinstance(value, str):
                continue
            if secret_name(key) and value.strip():
                out.append(f'{what} "{key}" looks like a secret')
            elif kind := _common.secret_value_kind(value, config_file=True):
                out.append(f'{what} "{key}" holds a value that looks like a credential ({kind})')
    return out


SECRET_NO_PLAINTEXT_METADATA = ResourceRule(
    name="secret-no-plaintext-metadata",
    pack=Pack.SECURITY,
    description="Labels and annotations must not contain secrets.",
    check=secret_no_plaintext_metadata,
    applies_to=scope.LABELABLE,
    targets=BOTH,
    severity=Severity.CRITICAL,
    non_waivable=True,
    mappings=(
        partial(
            "nist-800-53:IA-5(7)",
            rationale="no static credential is embedded in labels or annotations",
            missing="detection is by known credential patterns; other static storage (images, code) is not "
            "checked",
        ),
        partial(
            "nist-800-53:SC-28",
            rationale="credentials stay out of metadata readable by anyone who lists objects",
            missing="encryption at rest of the secrets store and of data: not checked",
        ),
        partial(
            "iso-27001:A.5.17",
            rationale="credentials are not stored in metadata",
            missing="allocation and management of authentication information: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="credentials are not exposed in metadata",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=_SECRETS_NOT_IN_CEL,
    evidence=EvidenceSelector(reads=("$.metadata.labels.~", "$.metadata.annotations.~", "$.labels[*].label")),
    remediation="Remove the credential from labels/annotations (they are readable by anyone who can list "
    "the object) and rotate it.",
)


# --- network -----------------------------------------------------------------------------------


def _exposure_allowed(res: Res) -> bool:
    return truthy(_common.annotation(res, L.EXPOSURE_ALLOWED)) or truthy(
        as_dict(_common.object_labels(res)).get(L.EXPOSURE_ALLOWED)
    )


_EXPOSED = f' exposes it outside the cluster without "{L.EXPOSURE_ALLOWED}: true"'


def network_no_public_exposure(res: Res, cfg: Config) -> list[str]:
    allowed = _exposure_allowed(res)
    out: list[str] = []
    if res.type == _docker.CONTAINER:
        if allowed:
            return []
        if truthy(res.props.get("publishAllPorts")):
            out.append("publishAllPorts=true publishes every exposed port on all host interfaces")
        for i, port in enumerate(as_list(res.props.get("ports"))):
            if is_unknown(port):
                out.append(unknown_message(f"ports[{i}]"))
                continue
            ip = get(port, "ip")
            where = f"port {as_int_str(get(port, 'internal'))}"
            if is_unknown(ip):
                out.append(unknown_message(f"ports[{i}].ip"))
            elif ip is None or (isinstance(ip, str) and ip.strip() in ("", "0.0.0.0", "::", "[::]")):
                out.append(
                    f'{where} is published on all host interfaces (ip "{ip or "0.0.0.0"}"); bind 127.0.0.1'
                )
        return out
    if res.type == _k8s.SERVICE:
        if allowed:
            return []
        stype = get(res.props, "spec", "type")
        if is_unknown(stype):
            return [unknown_message("spec.type")]
        if stype in ("LoadBalancer", "NodePort"):
            out.append(f"Service type {stype}{_EXPOSED}")
        ext = get(res.props, "spec", "externalIPs")
        if as_list(ext):
            out.append("Service sets externalIPs")
        return out
    if _k8s.is_workload(res) and not allowed:
        for c in _k8s.containers(res):
            for port in as_list(c.spec.get("ports")):
                host_port = get(port, "hostPort")
                if is_unknown(host_port):
                    out.append(unknown_message(f"{c.path}.ports.hostPort"))
                elif host_port not in (None, 0, 0.0):
                    out.append(f'container "{c.name}" binds hostPort {as_int_str(host_port)} on the node')
    return out


NETWORK_NO_PUBLIC_EXPOSURE = ResourceRule(
    name="network-no-public-exposure",
    pack=Pack.SECURITY,
    description="Services and ports must not be exposed outside the cluster/host without an explicit "
    "allowance.",
    check=network_no_public_exposure,
    applies_to=scope.EXPOSURE,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        full(
            "cis-docker:5.14",
            rationale="every published Docker port is bound to a specific (loopback) interface, or carries "
            "a reviewed allowance",
        ),
        partial(
            "cis-kubernetes:5.2.13",
            rationale="no declared pod uses a hostPort without an allowance",
            missing="the rule also allows reviewed exceptions; and the control asks each namespace's "
            "admission policy (Pod Security Admission) to refuse such pods; the cluster's admission "
            "configuration is not checked",
        ),
        partial(
            "nist-800-53:SC-7",
            rationale="nothing is exposed outside the cluster or host without an allowance",
            missing="boundary devices, monitoring of communications at the boundary: not checked",
        ),
        partial(
            "iso-27001:A.8.20",
            rationale="services are not exposed to outside networks by default",
            missing="network management, controls on network devices: not checked",
        ),
        partial(
            "soc2:CC6.6",
            rationale="services are not reachable from outside the system boundary by default",
            missing="threat protection at the boundary (firewalls, intrusion detection): not checked",
        ),
    ),
    admission=Cel(
        match=cel.SERVICES_AND_WORKLOADS,
        violations=f"({cel.truthy(cel.annotation_or(L.EXPOSURE_ALLOWED, ''))} || "
        f"{cel.truthy(cel.object_label_or(L.EXPOSURE_ALLOWED, ''))}) ? [] : "
        "(request.kind.group == '' && request.kind.kind == 'Service') ? "
        "((object.?spec.?type.orValue('') in ['LoadBalancer', 'NodePort'] ? ['Service type ' + "
        "object.spec.type + "
        f"{cel.lit(_EXPOSED)}] : []) + "
        "(size(object.?spec.?externalIPs.orValue([])) > 0 ? ['Service sets externalIPs'] : [])) : "
        "variables.containers.map(c, c.?ports.orValue([]).filter(p, p.?hostPort.orValue(0) != 0)"
        ".map(p, 'container \"' + c.name + '\" binds hostPort ' + string(p.hostPort) + ' on the "
        "node')).flatten()",
    ),
    evidence=EvidenceSelector(
        reads=(
            "$.spec.type",
            "$.spec.ports[*].nodePort",
            "$.ports[*].ip",
            "$.ports[*].external",
            *ev.label(L.EXPOSURE_ALLOWED),
        )
    ),
    remediation=f"Use ClusterIP Services (and an Ingress with TLS), bind Docker ports to 127.0.0.1, or set "
    f'`{L.EXPOSURE_ALLOWED}: "true"` after a security review.',
)


def as_int_str(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def ingress_tls_required(res: Res, cfg: Config) -> list[str]:
    if res.type not in _k8s.INGRESS_TYPES:
        return []
    spec = res.props.get("spec")
    if is_unknown(spec):
        return [unknown_message("spec")]
    tls = get(spec, "tls")
    if is_unknown(tls):
        return [unknown_message("spec.tls")]
    if not as_list(tls):
        return ["Ingress has no spec.tls; every host must be served over TLS"]
    out: list[str] = []
    covered: set[str] = set()
    for i, entry in enumerate(as_list(tls)):
        if not isinstance(as_str(get(entry, "secretName")), str) and not is_unknown(get(entry, "secretName")):
            out.append(f"spec.tls[{i}] has no secretName")
        covered |= {h for h in as_list(get(entry, "hosts")) if isinstance(h, str)}
    for rule in as_list(get(spec, "rules")):
        host = get(rule, "host")
        if is_unknown(host):
            out.append(unknown_message("spec.rules[].host"))
        elif isinstance(host, str) and host not in covered and not _wildcard_covers(host, covered):
            out.append(f'host "{host}" is not covered by spec.tls')
    return out


INGRESS_TLS_REQUIRED = ResourceRule(
    name="ingress-tls-required",
    pack=Pack.SECURITY,
    description="Every Ingress host must be served over TLS.",
    check=ingress_tls_required,
    applies_to=scope.INGRESSES,
    targets=K8S,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "nist-800-53:SC-8",
            rationale="every Ingress host is served over TLS",
            missing="traffic inside the cluster (service to service, to the database) is not checked",
        ),
        partial(
            "iso-27001:A.8.24",
            rationale="TLS is configured for every Ingress host",
            missing="rules for cryptography and key management: not checked",
        ),
        partial(
            "soc2:CC6.7",
            rationale="traffic entering through an Ingress is encrypted in transit",
            missing="other transmission and removal of information: not checked",
        ),
    ),
    admission=Cel(
        match=cel.INGRESSES,
        violations="size(object.?spec.?tls.orValue([])) == 0 ? "
        "['Ingress has no spec.tls; every host must be served over TLS'] : "
        "object.spec.tls.transformList(i, t, !has(t.secretName), 'spec.tls[' + string(i) + '] has no "
        "secretName')"
        " + object.spec.?rules.orValue([]).filter(r, has(r.host) && !object.spec.tls.exists(t, "
        "t.?hosts.orValue([]).exists(h, h == r.host || (h.startsWith('*.') && "
        "r.host.endsWith(h.substring(1)) && "
        "size(r.host.split('.')) == size(h.split('.'))))))"
        ".map(r, 'host \"' + r.host + '\" is not covered by spec.tls')",
    ),
    evidence=EvidenceSelector(
        reads=("$.spec.rules[*].host", "$.spec.tls[*].hosts", "$.spec.tls[*].secretName")
    ),
    remediation="Add a `spec.tls` entry with a `secretName` covering every `spec.rules[].host` "
    "(cert-manager can issue it).",
)


def _wildcard_covers(host: str, covered: set[str]) -> bool:
    return any(
        c.startswith("*.") and host.endswith(c[1:]) and host.count(".") == c.count(".") for c in covered
    )


_ANYWHERE = ("0.0.0.0/0", "::/0")


def _allows_all(rule: Any) -> bool | None:
    """Whether one ingress rule admits every source on every port; None when unknown."""
    if is_unknown(rule):
        return None
    sources, ports = get(rule, "from"), get(rule, "ports")
    if is_unknown(sources) or is_unknown(ports):
        return None
    if as_list(ports):
        return False
    if not as_list(sources):
        return True  # no ``from`` and no ``ports``: every source, every port
    for peer in as_list(sources):
        cidr = get(peer, "ipBlock", "cidr")
        if is_unknown(cidr):
            return None
        if cidr in _ANYWHERE and not as_list(get(peer, "ipBlock", "except")):
            return True
    return False


def restricts_ingress(policy: Res) -> bool | None:
    """Whether a NetworkPolicy restricts the ingress of the pods it selects; None when unknown.

    It does when ``Ingress`` is among its effective ``policyTypes`` (absent: Ingress, as the API
    server defaults it) and none of its ingress rules admits every source on every port (an empty
    rule, or a ``0.0.0.0/0`` ipBlock without ports). No rules at all denies all ingress.
    """
    spec = get(policy.props, "spec")
    types, rules = get(spec, "policyTypes"), get(spec, "ingress")
    if is_unknown(spec) or is_unknown(types) or is_unknown(rules):
        return None
    if types is not None and "Ingress" not in as_list(types):
        return False
    verdicts = [_allows_all(rule) for rule in as_list(rules)]
    if True in verdicts:
        return False
    return None if None in verdicts else True


def network_policy_coverage(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    """Stack rule: every k8s pod is selected by a NetworkPolicy; no Docker container on the default bridge."""
    by_namespace: dict[Any, list[Res]] = {}
    for res in resources:
        if res.type == _k8s.NETWORK_POLICY:
            by_namespace.setdefault(hkey(_k8s.namespace_of(res)), []).append(res)
    policies = {
        ns: _k8s.SelectorIndex(items, lambda p: get(p.props, "spec", "podSelector"))
        for ns, items in by_namespace.items()
    }
    out: list[tuple[str, str]] = []
    for res in resources:
        if _k8s.is_workload(res):
            ns = hkey(_k8s.namespace_of(res))
            labels = _k8s.pod_labels(res)
            if is_unknown(ns) or is_unknown(labels):
                out.append(
                    (
                        res.urn,
                        f"{res.label}: "
                        + unknown_message("pod labels or namespace", "NetworkPolicy coverage"),
                    )
                )
                continue
            selecting: list[Res] = []
            verdicts: list[bool | None] = []
            for p in policies[ns].candidates(labels) if ns in policies else ():
                selects = _k8s.selector_matches(get(p.props, "spec", "podSelector"), labels)
                if selects is False:
                    continue
                restricts = restricts_ingress(p)
                if selects and restricts is not None:
                    selecting.append(p)
                verdicts.append(None if selects is None or restricts is None else restricts)
            if True in verdicts:
                continue
            if None in verdicts:
                out.append(
                    (
                        res.urn,
                        f"{res.label}: " + unknown_message("a NetworkPolicy podSelector", "coverage"),
                    )
                )
            elif selecting:
                names = ", ".join(f'"{_k8s.name_of(p)}"' for p in selecting)
                out.append(
                    (
                        res.urn,
                        f"{res.label}: the NetworkPolicies selecting its pods ({names}) allow all ingress; "
                        "none restricts it",
                    )
                )
            else:
                out.append(
                    (
                        res.urn,
                        f'{res.label}: pods in namespace "{ns}" are not selected by any NetworkPolicy',
                    )
                )
        elif res.type == _docker.CONTAINER:
            mode = res.props.get("networkMode")
            networks = res.props.get("networksAdvanced")
            if is_unknown(mode) or is_unknown(networks):
                out.append(
                    (
                        res.urn,
                        f"{res.label}: " + unknown_message("networkMode/networksAdvanced"),
                    )
                )
            elif not as_list(networks) and (mode is None or mode in ("bridge", "default")):
                out.append(
                    (
                        res.urn,
                        f"{res.label}: attached only to Docker's default bridge network; use a "
                        "user-defined network",
                    )
                )
    return out


NETWORK_POLICY_COVERAGE = StackRule(
    name="network-policy-coverage",
    pack=Pack.SECURITY,
    description="Every pod must be selected by a NetworkPolicy that restricts its ingress; Docker "
    "containers must use a user-defined network.",
    check=network_policy_coverage,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        full(
            "cis-kubernetes:5.3.2",
            rationale="every declared pod is selected by a NetworkPolicy restricting ingress",
        ),
        full(
            "cis-docker:5.30", rationale="every declared container joins a user-defined network, not docker0"
        ),
        partial(
            "nist-800-53:SC-7",
            rationale="ingress to every pod is restricted by policy",
            missing="boundary devices, monitoring of communications at the boundary: not checked",
        ),
        partial(
            "nist-800-53:AC-4",
            rationale="ingress flows between pods are controlled by policy",
            missing="egress and information-flow policy beyond pod ingress: not checked",
        ),
        partial(
            "iso-27001:A.8.22",
            rationale="workloads are segregated by network policy",
            missing="the segregation design (domains, trust levels) and its review: not checked",
        ),
        partial(
            "soc2:CC6.6",
            rationale="pods are not reachable from everywhere by default",
            missing="threat protection at the boundary (firewalls, intrusion detection): not checked",
        ),
    ),
    admission=NotInCel(
        "a pod is covered by the NetworkPolicies that select it: the rule reads every policy of the "
        "namespace with the pod, and an admission policy sees one object (no lookups)"
    ),
    evidence=EvidenceSelector(
        reads=("$.spec.podSelector", "$.spec.policyTypes", "$.networksAdvanced[*].name")
    ),
    remediation="Add a default-deny NetworkPolicy (`podSelector: {}`) per namespace plus allow rules; on "
    "Docker attach containers to the environment's network via `networks_advanced`. A policy restricts "
    "ingress when `Ingress` is among its `policyTypes` (the default) and no rule admits every source on "
    "every port (an empty rule, a `0.0.0.0/0` ipBlock without ports); egress is not required.",
)


_NAMESPACED_PREFIXES = (
    "kubernetes:core/v1:",
    "kubernetes:apps/",
    "kubernetes:batch/",
    "kubernetes:extensions/",
    "kubernetes:autoscaling/",
    "kubernetes:policy/",
    "kubernetes:networking.k8s.io/",
    "kubernetes:monitoring.coreos.com/v1:",
    "kubernetes:gateway.networking.k8s.io/v1:",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
)
_CLUSTER_SCOPED = {
    "Namespace",
    "PersistentVolume",
    "Node",
    "ClusterRole",
    "ClusterRoleBinding",
    "IngressClass",
    "PodSecurityPolicy",
}
# Objects the control plane itself creates and keeps where they are: the ``kubernetes`` Service in
# ``default`` (the API server's endpoint reconciler), and in every namespace the ``default``
# ServiceAccount (the service-account controller) and the ``kube-root-ca.crt`` ConfigMap (the root CA
# publisher). A program that declares one (to adopt or patch it) cannot choose its namespace.
_KUBERNETES_OWNED = {
    (_k8s.SERVICE, "kubernetes", "default"),
    (_k8s.SERVICE_ACCOUNT, "default", None),
    (_k8s.CONFIG_MAP, "kube-root-ca.crt", None),
}


def namespaced(res: Res, cfg: Config) -> bool:
    """A namespaced Kubernetes object (not a list or patch) that a program places itself."""
    if not res.type.startswith(_NAMESPACED_PREFIXES) or res.kind in _CLUSTER_SCOPED:
        return False
    if res.kind.endswith("List") or res.kind.endswith("Patch"):
        return False
    return not kubernetes_owned(res)


NAMESPACED = AppliesTo(
    summary="namespaced Kubernetes objects a program places itself (not those Kubernetes creates)",
    types=None,
    when=namespaced,
)


def kubernetes_owned(res: Res) -> bool:
    """One of the objects Kubernetes creates itself (see ``_KUBERNETES_OWNED``), by known name."""
    name = get(res.props, "metadata", "name")
    ns = get(res.props, "metadata", "namespace")
    if not isinstance(name, str):
        return False
    return any(
        res.type == kind and name == owned and (namespace is None or ns in (namespace, None))
        for kind, owned, namespace in _KUBERNETES_OWNED
    )


def namespace_not_default(res: Res, cfg: Config) -> list[str]:
    if not namespaced(res, cfg):
        return []
    ns = get(res.props, "metadata", "namespace")
    if is_unknown(ns):
        return [unknown_message("metadata.namespace")]
    if ns is None:
        return ["metadata.namespace is not set, so the object lands in the provider's default namespace"]
    if ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        return [f'object is in the reserved namespace "{ns}"']
    return []


NAMESPACE_NOT_DEFAULT = ResourceRule(
    name="namespace-not-default",
    pack=Pack.SECURITY,
    description="Namespaced objects must live in a dedicated namespace.",
    check=namespace_not_default,
    applies_to=NAMESPACED,
    targets=K8S,
    severity=Severity.MEDIUM,
    mappings=(
        full(
            "cis-kubernetes:5.7.4",
            rationale="every declared namespaced object names a namespace other than default",
        ),
        partial(
            "nist-800-53:SC-2",
            rationale="platform objects live in their own namespace",
            missing="separation of user functionality from system management functionality: not checked",
        ),
        partial(
            "iso-27001:A.8.22",
            rationale="the environment's objects are grouped in one namespace",
            missing="network segregation itself is network-policy-coverage's, and its design: not checked",
        ),
    ),
    admission=Cel(
        match=cel.NAMESPACED,
        violations="!object.metadata.?namespace.hasValue() ? "
        "['metadata.namespace is not set, so the object lands in the provider\\'s default namespace'] : "
        "[object.metadata.namespace].filter(n, n in ['default', 'kube-system', 'kube-public', "
        "'kube-node-lease'])"
        ".map(n, 'object is in the reserved namespace \"' + n + '\"')",
    ),
    evidence=EvidenceSelector(reads=("$.metadata.namespace",)),
    remediation="Set `metadata.namespace` to the environment's namespace explicitly.",
)
