"""Shared pieces of the Docker builders: hardened container defaults, labels, images, secret env.

Every container the Docker target creates goes through ``hardened_container`` so the hardening the
policies check (no privileged mode, read-only root unless files are uploaded, all capabilities dropped,
no-new-privileges, 127.0.0.1-only ports, restart policy, memory/CPU limits, log rotation) cannot be
forgotten per layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from mlops_platform.components.args import ComputeResources

LOOPBACK = "127.0.0.1"  # published ports bind here only: nothing is reachable from other hosts
RESTART = "unless-stopped"
LOG_OPTS = {"max-size": "10m", "max-file": "3"}  # bounded json-file logs: 30 MB per container


def docker_labels(labels: Mapping[str, str]) -> list[docker.ContainerLabelArgs]:
    """A label dict as the provider's ``[{label, value}]`` list, sorted for deterministic inputs."""
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]


def network_labels(labels: Mapping[str, str]) -> list[docker.NetworkLabelArgs]:
    return [docker.NetworkLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]


def volume_labels(labels: Mapping[str, str]) -> list[docker.VolumeLabelArgs]:
    return [docker.VolumeLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]


def remote_image(name: str, image: str, parent: pulumi.Resource) -> docker.RemoteImage:
    """A pinned image, kept locally on destroy (other stacks on the host may share it)."""
    return docker.RemoteImage(name, name=image, keep_locally=True, opts=pulumi.ResourceOptions(parent=parent))


def env(name: str, value: str) -> str:
    """A plain environment entry (``K=V``); never use it for credentials."""
    return f"{name}={value}"


def secret_env(name: str, value: pulumi.Input[str]) -> pulumi.Output[str]:
    """A credential as an environment entry, secret end to end (``Output.secret``)."""
    return pulumi.Output.secret(pulumi.Output.concat(name, "=", value))


def cpu_shares(millicores: int) -> int:
    """``500`` -> ``512``: the request as a CPU-time weight (Docker gives one CPU 1024 shares; min 2)."""
    return max(2, round(millicores * 1024 / 1000))


def cpus(millicores: int) -> str:
    """``1500`` -> ``"1.5"``: Docker's ``--cpus`` takes a decimal count of CPUs."""
    return f"{millicores / 1000:g}"


def http_check(url: str, *, tool: str = "wget") -> list[str]:
    """Healthcheck command probing ``url`` with a tool the image ships (busybox wget or python)."""
    if tool == "python":
        code = f"import urllib.request,sys; urllib.request.urlopen({url!r}, timeout=4); sys.exit(0)"
        return ["CMD", "python", "-c", code]
    return ["CMD", "wget", "-q", "--spider", url]


def healthcheck(tests: list[str], *, start_period: str = "30s") -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=tests, interval="15s", timeout="5s", retries=5, start_period=start_period
    )


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    """What differs between containers; everything else is the hardened default.

    ``user`` None means the image's default user, only where the image needs root (documented
    at the call site). ``writable_paths`` become tmpfs mounts on the read-only root filesystem.
    """

    image: pulumi.Input[str]
    network: pulumi.Input[str]
    hostname: str
    """Network alias other containers reach this one by (plain, known before deployment)."""
    labels: Mapping[str, str]
    resources: ComputeResources
    health: docker.ContainerHealthcheckArgs | None
    user: str | None
    envs: Sequence[pulumi.Input[str]] = ()
    command: Sequence[str] | None = None
    entrypoint: Sequence[str] | None = None
    ports: Sequence[tuple[int, int | None]] = ()
    """(internal, external) published on 127.0.0.1; external None lets Docker pick a free port."""
    volumes: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Container path -> Docker volume name."""
    uploads: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Container path -> file content (an ``Output.secret`` for credentials). A container with uploads
    cannot have a read-only root filesystem: see ``hardened_container``. Prefer passing small scripts
    inline (``sh -c``) where the image has a shell."""
    writable_paths: Sequence[str] = ("/tmp",)
    restart: str = RESTART
    max_retry_count: int | None = None
    must_run: bool = True


def hardened_container(
    resource_name: str,
    container_name: pulumi.Input[str],
    spec: ContainerSpec,
    opts: pulumi.ResourceOptions,
) -> docker.Container:
    """A container with every hardening default of the platform applied.

    The root filesystem is read-only unless the container has ``uploads``: the provider extracts every
    upload at ``/`` (kreuzwerker/terraform-provider-docker ``CopyToContainer(..., "/", ...)``) and Docker
    refuses any extraction outside a volume into a read-only rootfs ("container rootfs is marked
    read-only", moby ``containerExtractToDir``). Those containers run as non-root with every capability
    dropped, so they still cannot write the image's root-owned files.
    """
    if any(isinstance(entry, pulumi.Output) for entry in spec.envs):
        # Policies (and Pulumi state) see the whole env list as secret only when it is declared so:
        # pulumi-policy hands rules plain values, so the option is the evidence they check.
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["envs"]))
    return docker.Container(
        resource_name,
        name=container_name,
        image=spec.image,
        hostname=spec.hostname,
        user=spec.user,
        envs=list(spec.envs) or None,
        command=list(spec.command) if spec.command is not None else None,
        entrypoints=list(spec.entrypoint) if spec.entrypoint is not None else None,
        labels=docker_labels(spec.labels),
        network_mode=spec.network,
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=spec.network, aliases=[spec.hostname])],
        ports=[docker.ContainerPortArgs(internal=i, external=e, ip=LOOPBACK) for i, e in spec.ports] or None,
        volumes=[
            docker.ContainerVolumeArgs(container_path=path, volume_name=volume)
            for path, volume in sorted(spec.volumes.items())
        ]
        or None,
        uploads=[
            docker.ContainerUploadArgs(file=path, content=content)
            for path, content in sorted(spec.uploads.items())
        ]
        or None,
        tmpfs={path: "rw,noexec,nosuid,size=64m" for path in spec.writable_paths} or None,
        healthcheck=spec.health,
        restart=spec.restart,
        max_retry_count=spec.max_retry_count,
        must_run=spec.must_run,
        privileged=False,
        read_only=not spec.uploads,
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        security_opts=["no-new-privileges:true"],
        memory=spec.resources.memory_limit_mib,
        memory_reservation=spec.resources.memory_request_mib,
        memory_swap=spec.resources.memory_limit_mib,  # equal to memory: no swap on top of the limit
        cpus=cpus(spec.resources.cpu_limit_millicores),
        cpu_shares=cpu_shares(spec.resources.cpu_request_millicores),
        log_driver="json-file",
        log_opts=LOG_OPTS,
        init=True,  # tini as PID 1: signals forwarded, zombies reaped
        opts=opts,
    )
