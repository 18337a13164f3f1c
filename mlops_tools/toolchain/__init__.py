"""The pinned Pulumi engine toolchain, built from the Go module proxy into a keyed cache.

``install()`` builds what is missing (the Pulumi CLI, the kubernetes provider, kube-apiserver and
kube-controller-manager, etcd, CRD files); ``installed()`` answers from the cache alone. Only the
standard library is imported here, so the CLI's ``--help`` stays fast.
"""

from mlops_platform.tools.toolchain.commands import ToolchainError
from mlops_platform.tools.toolchain.installer import (
    ComponentStatus,
    Toolchain,
    crd_files,
    env_exports,
    find_pulumi,
    install,
    installed,
    status,
)
from mlops_platform.tools.toolchain.pins import COMPONENTS, CORE

__all__ = [
    "COMPONENTS",
    "CORE",
    "ComponentStatus",
    "Toolchain",
    "ToolchainError",
    "crd_files",
    "env_exports",
    "find_pulumi",
    "install",
    "installed",
    "status",
]
