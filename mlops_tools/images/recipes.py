"""The platform's images: one declaration each, what it stands for and how it is built.

Every upstream default in ``stacks/defaults.yaml`` that the platform runs has a recipe here, plus the
platform's own Python image. A recipe names the software it ships (the same version as upstream
where one can be built here), the image's entrypoint, user and ports, and what differs from upstream
(``closeness``, which README's table repeats). ``builder`` turns a recipe into an OCI image layout;
nothing here runs anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops_platform.tools.toolchain.pins import GoModule

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
# What every image's base layer holds beyond Debian's minbase: TLS roots for S3, PyPI, webhooks.
BASE_PACKAGES = ("ca-certificates",)
NOBODY = 65534  # the upstream Prometheus images run as nobody
REPOSITORY_PREFIX = "mlops"  # images are pushed as <host:port>/mlops/<name>:<tag>

_PROMETHEUS = GoModule("github.com/prometheus/prometheus", "v0.54.1")  # Go module v0.54.1 = Prometheus 2.54.1
_ALERTMANAGER = GoModule("github.com/prometheus/alertmanager", "v0.27.0")
_PUSHGATEWAY = GoModule("github.com/prometheus/pushgateway", "v1.9.0")
_OPERATOR = GoModule("github.com/prometheus-operator/prometheus-operator", "v0.85.0")
# MinIO left semantic versions behind: the module proxy serves the server by pseudo-version only, and
# here only the repository's last commit (2026-02-12); RELEASE.2024-08-17T01-24-54Z (commit
# 72cff79c8a7c) answers 403. mc's commit of 2024-08-12 (the one MinIO's go.mod of that release
# requires) is served: one commit before mc's RELEASE.2024-08-13T05-33-17Z.
_MINIO = GoModule("github.com/minio/minio", "v0.0.0-20260212201848-7aac2a2c5b7c")
_MC = GoModule("github.com/minio/mc", "v0.0.0-20240812085227-32b7b7219356")


def _prometheus_version_flags(version: str, revision: str) -> tuple[str, ...]:
    """What Prometheus' promu stamps into ``github.com/prometheus/common/version`` (``--version``)."""
    package = "github.com/prometheus/common/version"
    return (
        f"-X {package}.Version={version}",
        f"-X {package}.Revision={revision}",
        f"-X {package}.Branch=HEAD",
        f"-X {package}.BuildUser=mlops-platform",
    )


def _minio_version_flags(package: str, release: str, commit: str) -> tuple[str, ...]:
    """What MinIO's ``buildscripts/gen-ldflags.go`` stamps (``minio --version``, ``mc --version``)."""
    version = release.removeprefix("RELEASE.")
    date, clock = version.split("T")
    iso = f"{date}T{clock.rstrip('Z').replace('-', ':')}Z"
    return (
        f"-X {package}.Version={iso}",
        f"-X {package}.ReleaseTag={release}",
        f"-X {package}.CommitID={commit}",
        f"-X {package}.ShortCommitID={commit[:12]}",
        f"-X {package}.CopyrightYear={date[:4]}",
    )


@dataclass(frozen=True, slots=True)
class GoBinary:
    """A Go main package built from the module proxy into the image at ``path``."""

    module: GoModule
    package: str
    """Import path of the main package (``github.com/prometheus/prometheus/cmd/prometheus``)."""
    path: str
    """Where the binary goes in the image (``/bin/prometheus``)."""
    ldflags: tuple[str, ...] = ()
    """``-X`` stamps of the upstream release process (``-s -w`` are always added)."""


@dataclass(frozen=True, slots=True)
class Account:
    """A system user and group created before packages are installed (so postinst scripts reuse it)."""

    name: str
    uid: int
    home: str


@dataclass(frozen=True, slots=True)
class PackageFile:
    """A file shipped in ``mlops_platform/tools/images/files/`` copied into the image."""

    source: str
    path: str
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class Check:
    """A command the built image must run, as its user, printing ``expect`` (build and tests)."""

    argv: tuple[str, ...]
    expect: str


@dataclass(frozen=True, slots=True)
class ImageRecipe:
    """One image: what it stands for, what it holds, how it starts."""

    name: str
    """Repository name under ``mlops/`` and the cache entry's name."""
    tag: str
    """The local tag: the shipped software's version (the Prometheus Operator reads Prometheus' from it)."""
    upstream: str | None
    """The upstream default it replaces (``stacks/defaults.yaml``); None for the platform's own images."""
    software: str
    """What it runs, with the version (``Prometheus 2.54.1``)."""
    closeness: str
    """What differs from the upstream image; README's table says the same."""
    entrypoint: tuple[str, ...]
    user: int
    ports: tuple[int, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = "/"
    apt_packages: tuple[str, ...] = ()
    pip_requirements: tuple[str, ...] = ()
    """Installed into the virtualenv ``/opt/venv`` (whose ``bin`` is first on PATH)."""
    pip_lock: str | None = None
    """A file of ``files/`` pinning every package of ``pip_requirements`` and their dependencies with
    hashes: installed instead of them (``--require-hashes --no-deps``), so nothing floats."""
    project_extra: str | None = None
    """Install this project's wheel with that extra into ``/opt/venv`` (the platform's own images)."""
    go_binaries: tuple[GoBinary, ...] = ()
    files: tuple[PackageFile, ...] = ()
    accounts: tuple[Account, ...] = ()
    directories: tuple[tuple[str, int], ...] = ()
    """Directories created owned by the given uid (a volume's mount point keeps them writable)."""
    setup: tuple[str, ...] = ()
    """Shell lines run in the image (as root) before its packages are installed."""
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def repository(self) -> str:
        """``mlops/<name>``: the repository on a local registry."""
        return f"{REPOSITORY_PREFIX}/{self.name}"


VENV = "/opt/venv"
VENV_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POSTGRES_MAJOR = "15"  # Debian bookworm's PostgreSQL; 16 is not in bookworm (only bookworm-backports' 17)
POSTGRES_PATH = (
    f"/usr/lib/postgresql/{POSTGRES_MAJOR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)
# Pins of the MLflow server image; MLflow's official image ships neither driver (mlflow/mlflow#9513).
# MLflow 3: the clients teams install today (3.x, and the platform's own runtime) log models through
# the logged-models API, which a 2.x server answers 404; the same version as the runtime's client.
MLFLOW_SERVER_REQUIREMENTS = ("mlflow==3.17.2", "psycopg2-binary==2.9.13", "boto3==1.44.18")

RECIPES: tuple[ImageRecipe, ...] = (
    ImageRecipe(
        name="minio",
        tag="RELEASE.2026-02-12T20-18-48Z",
        upstream="quay.io/minio/minio:RELEASE.2024-08-17T01-24-54Z",
        software="MinIO server 2026-02-12 (commit 7aac2a2c5b7c) and mc 2024-08-12 (commit 32b7b7219356)",
        closeness=(
            "newer server than upstream's RELEASE.2024-08-17 (the Go proxy serves only MinIO's last commit); "
            "same `minio` on PATH with the `server` argv and MINIO_ROOT_*/MINIO_KMS_SECRET_KEY env, "
            "`mc` in the same image as upstream's; no docker-entrypoint.sh (the platform sets the command)"
        ),
        entrypoint=("minio",),
        cmd=("server", "/data"),
        user=1000,
        ports=(9000, 9001),
        # uid 1000 has no home: both binaries keep their config under $HOME (the platform sets /tmp too).
        env=(("MINIO_CONFIG_ENV_FILE", "config.env"), ("HOME", "/tmp")),
        go_binaries=(
            GoBinary(
                _MINIO,
                "github.com/minio/minio",
                "/usr/bin/minio",
                _minio_version_flags(
                    "github.com/minio/minio/cmd", "RELEASE.2026-02-12T20-18-48Z", "7aac2a2c5b7c"
                ),
            ),
            GoBinary(
                _MC,
                "github.com/minio/mc",
                "/usr/bin/mc",
                _minio_version_flags(
                    "github.com/minio/mc/cmd", "RELEASE.2024-08-12T08-52-27Z", "32b7b7219356"
                ),
            ),
        ),
        directories=(("/data", 1000),),
        checks=(
            Check(("minio", "--version"), "RELEASE.2026-02-12T20-18-48Z"),
            Check(("mc", "--version"), "RELEASE.2024-08-12T08-52-27Z"),
        ),
    ),
    ImageRecipe(
        name="postgres",
        tag=f"{POSTGRES_MAJOR}-bookworm",  # never "alpine": the platform runs Alpine's postgres as uid 70
        upstream="docker.io/library/postgres:16.4-alpine",
        software=f"PostgreSQL {POSTGRES_MAJOR} (Debian bookworm's postgresql-{POSTGRES_MAJOR})",
        closeness=(
            f"major version {POSTGRES_MAJOR}, not 16.4 (bookworm has no 16); Debian-based like the official "
            "non-Alpine images (postgres is uid 999); our docker-entrypoint.sh honours the official "
            "env contract (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA) and initialises an empty "
            "PGDATA as the official one does; it runs as uid 999 from the start (no gosu step from root)"
        ),
        entrypoint=("docker-entrypoint.sh",),
        cmd=("postgres",),
        user=999,
        ports=(5432,),
        env=(("PATH", POSTGRES_PATH), ("PGDATA", "/var/lib/postgresql/data"), ("LANG", "C.UTF-8")),
        accounts=(Account("postgres", 999, "/var/lib/postgresql"),),
        setup=(
            # postgresql-common would create and start a "main" cluster at install time.
            "mkdir -p /etc/postgresql-common/createcluster.d",
            "echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/mlops.conf",
        ),
        apt_packages=(f"postgresql-{POSTGRES_MAJOR}",),
        files=(PackageFile("postgres-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh", 0o755),),
        directories=(("/var/lib/postgresql/data", 999), ("/var/run/postgresql", 999)),
        checks=(
            Check(("postgres", "--version"), f"(PostgreSQL) {POSTGRES_MAJOR}."),
            Check(("pg_isready", "--version"), f"(PostgreSQL) {POSTGRES_MAJOR}."),
            Check(("pg_dump", "--version"), f"(PostgreSQL) {POSTGRES_MAJOR}."),
        ),
    ),
    ImageRecipe(
        name="mlflow",
        tag="3.17.2",
        # The tier default: an organisation's build of this recipe (the official ghcr.io/mlflow/mlflow
        # image has no PostgreSQL driver, and the spec refuses it: mlflow_server_image).
        upstream="ghcr.io/acme-ml/mlflow-server:3.17.2",
        software="MLflow 3.17.2 with psycopg2-binary 2.9.13 and boto3 1.44.18 on Debian's Python 3.11",
        closeness=(
            "same MLflow version as ghcr.io/mlflow/mlflow:v3.17.2 and `mlflow` on PATH, no entrypoint as "
            "upstream; adds the PostgreSQL and S3 drivers upstream lacks (mlflow/mlflow#9513); Python 3.11 "
            "(upstream: 3.10)"
        ),
        entrypoint=(),
        cmd=("mlflow", "server", "--host", "0.0.0.0"),
        user=1000,
        ports=(5000,),
        env=(("PATH", VENV_PATH), ("HOME", "/tmp")),
        apt_packages=("python3", "python3-venv"),
        pip_requirements=MLFLOW_SERVER_REQUIREMENTS,
        pip_lock="mlflow-server.lock",
        accounts=(Account("mlflow", 1000, "/home/mlflow"),),
        checks=(
            Check(("mlflow", "--version"), "version 3.17.2"),
            Check(
                ("python", "-c", "import psycopg2, boto3, mlflow; print('drivers', mlflow.__version__)"),
                "drivers 3.17.2",
            ),
            # The backend store the server opens at start (SQLAlchemy and Alembic migrations), on
            # SQLite: an import alone missed SQLAlchemy 2.1 breaking MLflow 2.16.2, once the default.
            Check(
                (
                    "python",
                    "-c",
                    "import tempfile; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; "
                    "d = tempfile.mkdtemp(); SqlAlchemyStore(f'sqlite:///{d}/m.db', d); print('store ready')",
                ),
                "store ready",
            ),
        ),
    ),
    ImageRecipe(
        name="registry",
        tag="2.8.2",
        upstream="docker.io/library/registry:2.8.3",
        software="Distribution registry 2.8.2 (Debian bookworm's docker-registry)",
        closeness=(
            "2.8.2, one patch release behind 2.8.3; same config file path, storage /var/lib/registry, port "
            "5000 and REGISTRY_* env overrides (htpasswd auth included); entrypoint is the binary with "
            "`serve` (upstream: a shell script doing the same)"
        ),
        entrypoint=("/usr/bin/docker-registry", "serve"),
        cmd=("/etc/docker/registry/config.yml",),
        user=1000,
        ports=(5000,),
        apt_packages=("docker-registry",),
        files=(PackageFile("registry-config.yml", "/etc/docker/registry/config.yml"),),
        directories=(("/var/lib/registry", 1000),),
        checks=(Check(("docker-registry", "--version"), "distribution 2.8.2"),),
    ),
    ImageRecipe(
        name="prometheus",
        tag="v2.54.1",
        upstream="docker.io/prom/prometheus:v2.54.1",
        software="Prometheus 2.54.1 (Go module github.com/prometheus/prometheus v0.54.1)",
        closeness=(
            "same version, entrypoint /bin/prometheus, user nobody, port 9090, workdir /prometheus; the web "
            "UI's assets are not built (they need npm): the API, which the platform and the operator use, "
            "is complete; promtool is not included"
        ),
        entrypoint=("/bin/prometheus",),
        cmd=("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"),
        user=NOBODY,
        ports=(9090,),
        workdir="/prometheus",
        go_binaries=(
            GoBinary(
                _PROMETHEUS,
                "github.com/prometheus/prometheus/cmd/prometheus",
                "/bin/prometheus",
                _prometheus_version_flags("2.54.1", _PROMETHEUS.version),
            ),
        ),
        files=(PackageFile("prometheus.yml", "/etc/prometheus/prometheus.yml"),),
        directories=(("/prometheus", NOBODY),),
        checks=(Check(("/bin/prometheus", "--version"), "prometheus, version 2.54.1"),),
    ),
    ImageRecipe(
        name="alertmanager",
        tag="v0.27.0",
        upstream="docker.io/prom/alertmanager:v0.27.0",
        software="Alertmanager 0.27.0 (Go module github.com/prometheus/alertmanager v0.27.0)",
        closeness=(
            "same version, entrypoint /bin/alertmanager, user nobody, port 9093, workdir /alertmanager; "
            "amtool is not included"
        ),
        entrypoint=("/bin/alertmanager",),
        cmd=("--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"),
        user=NOBODY,
        ports=(9093,),
        workdir="/alertmanager",
        go_binaries=(
            GoBinary(
                _ALERTMANAGER,
                "github.com/prometheus/alertmanager/cmd/alertmanager",
                "/bin/alertmanager",
                _prometheus_version_flags("0.27.0", _ALERTMANAGER.version),
            ),
        ),
        files=(PackageFile("alertmanager.yml", "/etc/alertmanager/alertmanager.yml"),),
        directories=(("/alertmanager", NOBODY),),
        checks=(Check(("/bin/alertmanager", "--version"), "alertmanager, version 0.27.0"),),
    ),
    ImageRecipe(
        name="pushgateway",
        tag="v1.9.0",
        upstream="docker.io/prom/pushgateway:v1.9.0",
        software="Pushgateway 1.9.0 (Go module github.com/prometheus/pushgateway v1.9.0)",
        closeness="same version, entrypoint /bin/pushgateway, user nobody, port 9091, workdir /pushgateway",
        entrypoint=("/bin/pushgateway",),
        user=NOBODY,
        ports=(9091,),
        workdir="/pushgateway",
        go_binaries=(
            GoBinary(
                _PUSHGATEWAY,
                "github.com/prometheus/pushgateway",
                "/bin/pushgateway",
                _prometheus_version_flags("1.9.0", _PUSHGATEWAY.version),
            ),
        ),
        directories=(("/pushgateway", NOBODY),),
        checks=(Check(("/bin/pushgateway", "--version"), "pushgateway, version 1.9.0"),),
    ),
    ImageRecipe(
        name="prometheus-config-reloader",
        tag="v0.85.0",
        upstream="quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0",
        software="prometheus-config-reloader 0.85.0 (Go module prometheus-operator/prometheus-operator)",
        closeness=(
            "same version, entrypoint /bin/prometheus-config-reloader, user nobody, port 8080; the "
            "Prometheus Operator injects it as the sidecar of the StatefulSets it makes "
            "(`--prometheus-config-reloader=<ref>`)"
        ),
        entrypoint=("/bin/prometheus-config-reloader",),
        user=NOBODY,
        ports=(8080,),
        go_binaries=(
            GoBinary(
                _OPERATOR,
                "github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader",
                "/bin/prometheus-config-reloader",
                _prometheus_version_flags("0.85.0", _OPERATOR.version),
            ),
        ),
        checks=(Check(("/bin/prometheus-config-reloader", "--version"), "version 0.85.0"),),
    ),
    ImageRecipe(
        name="platform-python",
        tag="0.1.0",
        upstream=None,
        software=(
            "mlops-platform's wheel with its `runtime` extra (MLflow 3.17.2, scikit-learn, NumPy, SciPy, "
            "prometheus-client, minio) on Debian's Python 3.11"
        ),
        closeness=(
            "the platform's own image: the model server (mlops_platform.serving_runtime) and the drift "
            "job (mlops_platform.drift)"
        ),
        entrypoint=(),
        # A model's serving image by default (the platform's Deployments set only its environment);
        # the drift jobs name their own command (python -m mlops_platform.drift).
        cmd=("python", "-m", "mlops_platform.serving_runtime"),
        user=1000,
        ports=(8080,),
        env=(("PATH", VENV_PATH), ("HOME", "/tmp")),
        apt_packages=("python3", "python3-venv"),
        project_extra="runtime",
        accounts=(Account("mlops", 1000, "/home/mlops"),),
        checks=(
            Check(
                (
                    "python",
                    "-c",
                    "import mlops_platform, mlflow, sklearn, numpy, scipy, prometheus_client, minio; "
                    "print('runtime', mlflow.__version__)",
                ),
                "runtime 3.17.2",
            ),
        ),
    ),
)


def recipe(name: str) -> ImageRecipe:
    """The recipe called ``name``; ``KeyError`` names the known ones."""
    for candidate in RECIPES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no image recipe {name!r}; known: {', '.join(r.name for r in RECIPES)}")
