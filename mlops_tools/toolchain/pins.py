"""The pinned engine toolchain: every version and build flag, in this one table.

Each version here was checked against what the registries serve (the Go module proxy refuses most
Pulumi provider versions and the Python language host outright; see the toolchain notes). The
wrapper modules under ``gomod/`` repeat the Go versions in their ``go.mod``: the installer refuses
to build when the two disagree, so this table stays the one place to change a pin.
"""

from __future__ import annotations

from dataclasses import dataclass

PULUMI_VERSION = "v3.274.1"
KUBERNETES_VERSION = "v1.37.2"
STAGING_VERSION = "v0.37.2"  # k8s.io/kubernetes' staging modules (k8s.io/api, ...) of the same release
# The one provider pseudo-version the proxy serves: commit f47bc2d, after release 4.24.0.
KUBERNETES_PROVIDER_MODULE_VERSION = "v4.0.0-20260115033456-f47bc2d6f199"
KUBERNETES_PROVIDER_VERSION = "4.24.0+f47bc2d6f199"
KUBERNETES_PROVIDER_SDK_VERSION = "v4.24.0"
COREDNS_VERSION = "1.15.0"
METRICS_SERVER_VERSION = "0.8.0"
LOCAL_PATH_PROVISIONER_VERSION = "0.0.30"  # the newest the Go module proxy lists


@dataclass(frozen=True, slots=True)
class GoModule:
    """A module the Go module proxy serves, at a pinned version."""

    path: str
    version: str

    def __str__(self) -> str:
        return f"{self.path}@{self.version}"


@dataclass(frozen=True, slots=True)
class WrapperBuild:
    """``go build`` of main packages through a wrapper module of ours, ``gomod/<wrapper>/``.

    Used when the upstream module cannot be built in place (its go.mod replaces modules with local
    paths, so ``go install module@version`` is refused).
    """

    wrapper: str
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    tags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ("-s", "-w")
    version_args: tuple[str, ...] = ()
    """Arguments that make the first binary print its version (checked against the pin)."""


@dataclass(frozen=True, slots=True)
class ProviderBuild:
    """``go build`` inside a writable copy of a Pulumi provider module, after its generate step.

    Upstream's ``generate.go`` writes ``schema-embed.json`` (``schema.json`` with its ``version``
    set) and ``terraform-mapping-embed.json`` (re-serialised compactly); the module ships neither.
    """

    cmd_dir: str
    binary: str
    replaces: tuple[GoModule, ...]
    schema_version: str
    ldflags: tuple[str, ...] = ("-s", "-w")


@dataclass(frozen=True, slots=True)
class AptPackage:
    """A Debian package whose binary is copied into the cache (nothing is started)."""

    package: str
    version_prefix: str
    binary: str
    version_args: tuple[str, ...] = ("--version",)


@dataclass(frozen=True, slots=True)
class FileSet:
    """Files taken from a Go module's tree, such as CRD manifests."""

    name: str
    module: GoModule
    directory: str
    pattern: str = "*.yaml"


@dataclass(frozen=True, slots=True)
class ModuleFiles:
    """Files copied out of Go modules into the cache (no build)."""

    sets: tuple[FileSet, ...]


Recipe = WrapperBuild | ProviderBuild | AptPackage | ModuleFiles


@dataclass(frozen=True, slots=True)
class Component:
    """One cached part of the toolchain: what it is built from and how."""

    name: str
    version: str
    modules: tuple[GoModule, ...]
    recipe: Recipe

    @property
    def uses_go_build(self) -> bool:
        """Whether the output depends on the Go toolchain's version."""
        return isinstance(self.recipe, WrapperBuild | ProviderBuild)


_PROMETHEUS_OPERATOR = GoModule("github.com/prometheus-operator/prometheus-operator", "v0.85.0")
_KUBERNETES = GoModule("k8s.io/kubernetes", KUBERNETES_VERSION)
# What hack/lib/version.sh sets (less gitCommit and buildDate, which a module zip lacks and which
# would make the build differ per day); unset, --version says v0.0.0-master.
_KUBERNETES_LDFLAGS = (
    "-s",
    "-w",
    *(
        f"-X k8s.io/{pkg}.{var}={value}"
        for pkg in ("component-base/version", "client-go/pkg/version")
        for var, value in (
            ("gitVersion", KUBERNETES_VERSION),
            ("gitMajor", KUBERNETES_VERSION[1:].split(".")[0]),
            ("gitMinor", KUBERNETES_VERSION.split(".")[1]),
            ("gitTreeState", "clean"),
        )
    ),
)
_GATEWAY_API = GoModule("sigs.k8s.io/gateway-api", "v1.6.3")

COMPONENTS: tuple[Component, ...] = (
    Component(
        name="pulumi-cli",
        version=PULUMI_VERSION,
        modules=(
            GoModule("github.com/pulumi/pulumi/pkg/v3", PULUMI_VERSION),
            GoModule("github.com/pulumi/pulumi/sdk/v3", PULUMI_VERSION),
        ),
        recipe=WrapperBuild(
            wrapper="pulumi",
            packages=("github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",),
            binaries=("pulumi",),
            # osusergo: pure-Go user lookup with cgo off; grpcnotrace: drops x/net/trace's debug pages.
            tags=("osusergo", "grpcnotrace"),
            ldflags=(
                "-s",
                "-w",
                f"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={PULUMI_VERSION}",
            ),
            version_args=("version",),
        ),
    ),
    Component(
        name="kubernetes-provider",
        version=KUBERNETES_PROVIDER_VERSION,
        modules=(
            GoModule("github.com/pulumi/pulumi-kubernetes/provider/v4", KUBERNETES_PROVIDER_MODULE_VERSION),
        ),
        recipe=ProviderBuild(
            cmd_dir="cmd/pulumi-resource-kubernetes",
            binary="pulumi-resource-kubernetes",
            # The module's go.mod points the SDK at ../sdk, which a module zip does not contain.
            replaces=(
                GoModule("github.com/pulumi/pulumi-kubernetes/sdk/v4", KUBERNETES_PROVIDER_SDK_VERSION),
            ),
            schema_version=KUBERNETES_PROVIDER_VERSION,
            ldflags=(
                "-s",
                "-w",
                "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version="
                + KUBERNETES_PROVIDER_VERSION,
            ),
        ),
    ),
    Component(
        name="kube-apiserver",
        version=KUBERNETES_VERSION,
        modules=(_KUBERNETES,),
        recipe=WrapperBuild(
            wrapper="kubernetes",
            packages=(
                "k8s.io/kubernetes/cmd/kube-apiserver",
                "k8s.io/kubernetes/cmd/kube-controller-manager",
            ),
            binaries=("kube-apiserver", "kube-controller-manager"),
            ldflags=_KUBERNETES_LDFLAGS,
            version_args=("--version",),
        ),
    ),
    Component(
        name="etcd",
        version="3.4.23",
        modules=(),
        recipe=AptPackage(package="etcd-server", version_prefix="3.4.23", binary="/usr/bin/etcd"),
    ),
    Component(
        name="crds",
        version=f"prometheus-operator {_PROMETHEUS_OPERATOR.version}, gateway-api {_GATEWAY_API.version}",
        modules=(_PROMETHEUS_OPERATOR, _GATEWAY_API),
        recipe=ModuleFiles(
            sets=(
                FileSet("prometheus-operator", _PROMETHEUS_OPERATOR, "example/prometheus-operator-crd"),
                FileSet("gateway-api", _GATEWAY_API, "config/crd/standard"),
            )
        ),
    ),
    # The local cluster's node (mlops_platform.tools.node): what runs pods beside the control plane.
    Component(
        name="kube-node",
        version=KUBERNETES_VERSION,
        modules=(_KUBERNETES,),
        recipe=WrapperBuild(
            wrapper="kubernetes-node",
            packages=(
                "k8s.io/kubernetes/cmd/kubelet",
                "k8s.io/kubernetes/cmd/kube-scheduler",
                "k8s.io/kubernetes/cmd/kube-proxy",
            ),
            binaries=("kubelet", "kube-scheduler", "kube-proxy"),
            ldflags=_KUBERNETES_LDFLAGS,
            version_args=("--version",),
        ),
    ),
    Component(
        name="metrics-server",
        version=METRICS_SERVER_VERSION,
        modules=(GoModule("sigs.k8s.io/metrics-server", f"v{METRICS_SERVER_VERSION}"),),
        recipe=WrapperBuild(
            wrapper="metrics-server",
            packages=("sigs.k8s.io/metrics-server/cmd/metrics-server",),
            binaries=("metrics-server",),
            # Where its Makefile stamps the version (`metrics-server --version` prints it).
            ldflags=("-s", "-w", f"-X k8s.io/client-go/pkg/version.gitVersion=v{METRICS_SERVER_VERSION}"),
            version_args=("--version",),
        ),
    ),
    Component(
        name="coredns",
        version=COREDNS_VERSION,
        modules=(GoModule("github.com/coredns/coredns", f"v{COREDNS_VERSION}"),),
        recipe=WrapperBuild(
            wrapper="coredns",
            packages=("github.com/coredns/coredns",),
            binaries=("coredns",),
            version_args=("-version",),
        ),
    ),
    Component(
        name="local-path-provisioner",
        version=LOCAL_PATH_PROVISIONER_VERSION,
        modules=(
            GoModule("github.com/rancher/local-path-provisioner", f"v{LOCAL_PATH_PROVISIONER_VERSION}"),
        ),
        recipe=WrapperBuild(
            wrapper="local-path-provisioner",
            packages=("github.com/rancher/local-path-provisioner",),
            binaries=("local-path-provisioner",),
        ),
    ),
    Component(
        name="prometheus-operator",
        version=_PROMETHEUS_OPERATOR.version.removeprefix("v"),
        modules=(_PROMETHEUS_OPERATOR,),
        recipe=WrapperBuild(
            wrapper="prometheus-operator",
            packages=("github.com/prometheus-operator/prometheus-operator/cmd/operator",),
            binaries=("operator",),
            ldflags=(
                "-s",
                "-w",
                "-X github.com/prometheus/common/version.Version="
                + _PROMETHEUS_OPERATOR.version.removeprefix("v"),
            ),
            version_args=("--version",),
        ),
    ),
)

CORE = ("pulumi-cli", "kubernetes-provider")
"""The parts every ``Toolchain`` holds; always installed, whatever else is asked for."""

BY_NAME: dict[str, Component] = {c.name: c for c in COMPONENTS}
