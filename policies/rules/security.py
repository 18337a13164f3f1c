"""Security rules: container hardening, images, secrets and network exposure.

Every function takes the plain resource (:class:`~policies.rules._model.Res`) and the policy's
configuration and returns violation messages; an empty list means compliant or not applicable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.policies.rules import _common, _docker, _k8s
from mlops_platform.policies.rules._common import secret_name
from mlops_platform.policies.rules._images import parse_image, registry_allowed
from mlops_platform.policies.rules._model import (
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
_IMAGE_ID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


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


def image_approved_registry(res: Res, cfg: Config) -> list[str]:
    allowed = cfg_list(cfg, "allowedRegistries")

    def check(where: str, ref: str) -> str | None:
        image = parse_image(ref)
        if registry_allowed(image, allowed):
            return None
        approved = ", ".join(allowed) or "none configured"
        return f'{where} image "{ref}" is not from an approved registry ({approved})'

    return _image_checks(res, check)


# --- secrets -----------------------------------------------------------------------------------


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


# --- network -----------------------------------------------------------------------------------


def _exposure_allowed(res: Res) -> bool:
    return truthy(_common.annotation(res, L.EXPOSURE_ALLOWED)) or truthy(
        as_dict(_common.object_labels(res)).get(L.EXPOSURE_ALLOWED)
    )


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
            out.append(
                f'Service type {stype} exposes it outside the cluster without "{L.EXPOSURE_ALLOWED}: true"'
            )
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


def _wildcard_covers(host: str, covered: set[str]) -> bool:
    return any(
        c.startswith("*.") and host.endswith(c[1:]) and host.count(".") == c.count(".") for c in covered
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
