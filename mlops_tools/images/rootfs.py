"""Running things inside an image's root filesystem, and the one base layer every image shares.

The base is Debian bookworm's ``minbase`` made by ``mmdebstrap`` with documentation, manual pages,
translations and package lists left out, stored as a one-layer OCI image layout (``umoci``). Each
image's layout starts from a hard-linked copy of it, so the base layer is the same blob, with the
same digest, in every image: a registry stores it once and a node pulls it once.

Commands inside a root filesystem run under ``chroot`` in a private mount namespace (``unshare``):
``/proc`` and the shared apt and pip caches are mounted there and vanish with the namespace, so
nothing of the host stays in the image.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_platform.tools import build_cache
from mlops_platform.tools.images.recipes import BASE_PACKAGES, DEBIAN_MIRRORS, DEBIAN_SUITE
from mlops_platform.tools.toolchain.commands import Progress, ToolchainError, run_captured, run_logged, step

BASE_TAG = "base"
TOOLS = ("mmdebstrap", "umoci", "unshare", "chroot")
# Left out of every image: what dpkg never unpacks, for this layer and every layer above it.
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")
DPKG_INCLUDES = ("/usr/share/locale/locale.alias", "/usr/share/doc/*/copyright")
DEBIAN_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HOST_CA = "/run/mlops-build-ca.crt"  # where the host's CA bundle is mounted during a build


def missing_tools(tools: Sequence[str] = TOOLS) -> list[str]:
    """The build tools not on PATH (Debian packages: mmdebstrap, umoci, util-linux, coreutils)."""
    return [tool for tool in tools if shutil.which(tool) is None]


def require_tools(tools: Sequence[str] = TOOLS) -> None:
    """Raise ``ToolchainError`` naming the Debian packages to install when a build tool is missing."""
    missing = missing_tools(tools)
    if missing:
        raise ToolchainError(
            f"missing image build tools: {', '.join(missing)} "
            "(apt-get install mmdebstrap umoci skopeo runc docker-registry)"
        )
    if os.geteuid() != 0:
        raise ToolchainError("building images needs root (mmdebstrap's root mode, chroot, umoci unpack)")


def base_key() -> str:
    """Everything that determines the base layer (the Debian mirror's current packages aside)."""
    return build_cache.cache_key(
        {
            "suite": DEBIAN_SUITE,
            "mirrors": list(DEBIAN_MIRRORS),
            "packages": list(BASE_PACKAGES),
            "excludes": list(DPKG_EXCLUDES),
            "includes": list(DPKG_INCLUDES),
        }
    )


def ensure_base(root: Path, progress: Progress) -> build_cache.Entry:
    """The base image layout (``<entry>/oci``, tag ``base``), built first when missing."""

    def build(work: Path) -> dict[str, Any]:
        require_tools()
        rootfs = work / ".rootfs"
        logs = work / ".logs"
        command = [
            "mmdebstrap",
            "--variant=minbase",
            "--mode=root",
            f"--include={','.join(BASE_PACKAGES)}",
            '--aptopt=Acquire::Languages "none"',
            *(f"--dpkgopt=path-exclude={pattern}" for pattern in DPKG_EXCLUDES),
            *(f"--dpkgopt=path-include={pattern}" for pattern in DPKG_INCLUDES),
            '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log',
            DEBIAN_SUITE,
            str(rootfs),
            *DEBIAN_MIRRORS,
        ]
        with step(progress, f"image base: mmdebstrap {DEBIAN_SUITE} minbase"):
            run_logged(command, cwd=work, env=dict(os.environ), log=logs / "mmdebstrap.log")
        packages = run_captured(
            ["chroot", str(rootfs), "dpkg-query", "-W", "-f=${Package} ${Version}\n"],
            cwd=work,
            env=os.environ,
        ).split("\n")
        layout = work / "oci"
        with step(progress, "image base: OCI layer"):
            umoci(["init", "--layout", str(layout)])
            umoci(["new", "--image", f"{layout}:{BASE_TAG}"])
            umoci(
                [
                    "insert",
                    "--image",
                    f"{layout}:{BASE_TAG}",
                    "--history.created_by",
                    f"mmdebstrap --variant=minbase {DEBIAN_SUITE}",
                    str(rootfs),
                    "/",
                ]
            )
        shutil.rmtree(rootfs)
        shutil.rmtree(logs)
        return {"debian_packages": [p for p in packages if p]}

    return build_cache.ensure(root, "base", base_key(), build, progress=progress)


def umoci(args: Sequence[str]) -> str:
    """Run ``umoci args``; its stdout, or ``ToolchainError`` with its stderr."""
    return run_captured(["umoci", *args], cwd=Path("/"), env=os.environ)


def copy_layout(source: Path, target: Path) -> None:
    """A copy of an OCI layout whose blobs are hard links (blobs are content-addressed, never edited)."""
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif path.parent.name == "sha256":
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def host_ca_bundle() -> Path | None:
    """The CA bundle the host's own downloads trust (``PIP_CERT``, ``SSL_CERT_FILE``, Debian's default)."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"), DEBIAN_CA_BUNDLE):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def run_in_rootfs(
    rootfs: Path,
    script: str,
    *,
    log: Path,
    binds: Mapping[str, Path] | None = None,
) -> None:
    """Run ``script`` (``sh -e``) as root inside ``rootfs``, with ``/proc`` and ``binds`` mounted privately.

    Args:
        rootfs: The unpacked root filesystem.
        script: Shell lines to run there.
        log: Receives the output.
        binds: Host directories mounted at the given paths inside (created when missing) for the
            run only: the shared apt and pip caches.
    """
    resolv = rootfs / "etc" / "resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copyfile("/etc/resolv.conf", resolv)  # apt and pip resolve names during the build only
    mounts = ['mount -t proc proc "$R/proc"']
    for inside, host in (binds or {}).items():
        host.mkdir(parents=True, exist_ok=True)
        (rootfs / inside.lstrip("/")).mkdir(parents=True, exist_ok=True)
        mounts.append(f'mount --bind {shlex.quote(str(host))} "$R"{shlex.quote(inside)}')
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "R": str(rootfs), "S": script, "HOME": "/root"}
    env["DEBIAN_FRONTEND"] = "noninteractive"
    trust = host_ca_bundle()
    ca_target = rootfs / HOST_CA.lstrip("/")
    if trust is not None:
        # The host's trust store for the build's own downloads: where PyPI sits behind a proxy with
        # its own CA (as on these machines), Debian's ca-certificates in the image cannot verify it.
        # Mounted for the build only; the image keeps Debian's roots.
        ca_target.parent.mkdir(parents=True, exist_ok=True)
        ca_target.touch()
        mounts.append(f'mount --bind -o ro {shlex.quote(str(trust))} "$R"{HOST_CA}')
        env.update(PIP_CERT=HOST_CA, SSL_CERT_FILE=HOST_CA, REQUESTS_CA_BUNDLE=HOST_CA)
    for name in ("PIP_DEFAULT_TIMEOUT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    outer = " && ".join([*mounts, 'exec chroot "$R" /bin/sh -ec "$S"'])
    command = ["unshare", "--mount", "--fork", "--propagation", "private", "sh", "-ec", outer]
    try:
        run_logged(command, cwd=rootfs, env=env, log=log)
    finally:
        resolv.unlink(missing_ok=True)
        ca_target.unlink(missing_ok=True)
        for inside in binds or {}:
            with contextlib.suppress(OSError):
                (rootfs / inside.lstrip("/")).rmdir()


def run_as(
    rootfs: Path, user: int, argv: Sequence[str], env: Mapping[str, str], *, timeout_s: float = 300
) -> str:
    """Run ``argv`` inside ``rootfs`` as ``user`` (uid and gid) with exactly ``env``; its output."""
    command = ["chroot", f"--userspec={user}:{user}", str(rootfs), *argv]
    try:
        done = subprocess.run(
            command, env=dict(env), capture_output=True, text=True, timeout=timeout_s, check=False, cwd="/"
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"{shlex.join(argv)} in the image: {exc}") from None
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise ToolchainError(f"{shlex.join(argv)} in the image exited {done.returncode}:\n{output[-3000:]}")
    return output
