"""Pulumi programs of the shapes platform teams already have, written for these tests.

Each shape is a dict of files (path -> text) making a whole project named ``team-web`` (not
``mlops-platform``); :func:`write_project` lays one out. The line each resource is created on is
marked in the program by a ``# line:<name>`` comment, so a test asks :func:`line_of` instead of
counting lines by hand.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_NAME = "team-web"
PULUMI_YAML = f"name: {PROJECT_NAME}\nruntime: python\n"
STACK_FILE = "config:\n  team-web:replicas: '2'\n"
# For the real engine with no cluster: the kubernetes provider's render mode, in which it templates Helm
# v4 charts and constructs yaml.v2 components (a preview never writes the directory).
RENDER_STACK_FILE = STACK_FILE + "  kubernetes:renderYamlToDirectory: rendered\n"

# Every pod-bearing kind, each with a container on a mutable tag, inside a component of the team's.
POD_KINDS = '''"""A team's program: every pod-bearing kind, one inside a component resource."""

import pulumi
import pulumi_kubernetes as k8s

POD = {"containers": [{"name": "app", "image": "ghcr.io/acme/app:main"}]}
TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": POD}
SELECTOR = {"matchLabels": {"app": "x"}}


class Web(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("team:index:Web", name, None, opts)
        k8s.apps.v1.Deployment(  # line:deployment
            f"{name}-deploy",
            spec={"selector": SELECTOR, "template": TEMPLATE},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


Web("shop")
k8s.core.v1.Pod("bare", spec=POD)  # line:pod
SPEC = {"selector": SELECTOR, "template": TEMPLATE}
ONCE = {"template": {"spec": {**POD, "restartPolicy": "Never"}}}
k8s.apps.v1.StatefulSet("db", spec={**SPEC, "serviceName": "db"})  # line:statefulset
k8s.apps.v1.DaemonSet("agent", spec=SPEC)  # line:daemonset
k8s.apps.v1.ReplicaSet("rs", spec=SPEC)  # line:replicaset
k8s.core.v1.ReplicationController("rc", spec={**SPEC, "selector": {"app": "x"}})  # line:replicationcontroller
k8s.batch.v1.Job("once", spec=ONCE)  # line:job
k8s.batch.v1.CronJob("nightly", spec={"schedule": "0 3 * * *", "jobTemplate": {"spec": ONCE}})  # line:cronjob
k8s.core.v1.PodTemplate("tmpl", template=TEMPLATE)  # line:podtemplate
'''

# An LLM server (llama.cpp) deployed with none of our labels, pulling a hub model unpinned at start.
INFERENCE_SERVER = '''"""A team's self-hosted LLM: llama.cpp's server, its model pulled at start."""

import pulumi_kubernetes as k8s

k8s.apps.v1.Deployment(  # line:llm
    "llm",
    metadata={"namespace": "llm"},
    spec={
        "selector": {"matchLabels": {"app": "llm"}},
        "template": {
            "metadata": {"labels": {"app": "llm"}},
            "spec": {
                "containers": [
                    {
                        "name": "server",
                        "image": "ghcr.io/ggml-org/llama.cpp:server-b4719",
                        "args": ["-hf", "ggml-org/gemma-3-1b-it-GGUF", "--port", "8080"],
                        "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                    }
                ]
            },
        },
    },
)
'''

# A component whose transform (run by the engine on each child) moves its Deployment onto :edge.
TRANSFORMED = '''"""A team's program: a component, and a transform the engine applies to its children."""

import pulumi
import pulumi_kubernetes as k8s

LABELS = {"app": "web"}
POD = {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def to_edge(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ != "kubernetes:apps/v1:Deployment":
        return None
    props = dict(args.props)
    props["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:edge"
    return pulumi.ResourceTransformResult(props, args.opts)


class Web(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("team:index:Web", name, None, opts)
        k8s.apps.v1.Deployment(  # line:child
            f"{name}-d",
            spec={"selector": {"matchLabels": LABELS}, "template": POD},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


Web("w", opts=pulumi.ResourceOptions(transforms=[to_edge]))
'''

# A provider function the offline engine cannot answer (another provider's lookup).
GET_FUNCTION = '''"""A team's program that looks an image up in a registry before deploying it."""

import pulumi
import pulumi_docker as docker

image = docker.get_registry_image_output(name="nginx:1.27")  # line:lookup
pulumi.export("digest", image.sha256_digest)
'''

# The program itself fails: a TypeError at the team's own line.
RAISING = '''"""A team's program with a mistake in it."""

import pulumi_kubernetes as k8s

k8s.helm.v3.Chart("web", k8s.helm.v3.ChartOpts(path="./chart"))  # line:mistake
'''

# A local Helm chart whose Deployment runs privileged on :latest (rendered by the provider).
CHART_YAML = "apiVersion: v2\nname: web\nversion: 0.1.0\n"
CHART_VALUES = "image: nginx:latest\nprivileged: true\n"
CHART_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          securityContext: {privileged: {{ .Values.privileged }}}
"""
HELM_V3 = '''"""A team's program: its own chart, through the Helm v3 Chart."""

import pulumi_kubernetes as k8s

k8s.helm.v3.Chart("web", k8s.helm.v3.LocalChartOpts(path="./chart"))  # line:chart
'''
HELM_V4 = '''"""A team's program: its own chart, through the Helm v4 Chart (built by the provider)."""

import pulumi_kubernetes as k8s

k8s.helm.v4.Chart("web", chart="./chart")  # line:chart
'''
MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.4.2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-settings
data:
  LOG_LEVEL: info
"""
CONFIG_FILES = '''"""A team's program: manifests through ConfigFile and ConfigGroup, one transformed."""

import pulumi_kubernetes as k8s


def unpin(obj, opts):
    """The team's transformation: every container onto the moving :main tag."""
    if obj["kind"] == "Deployment":
        for container in obj["spec"]["template"]["spec"]["containers"]:
            container["image"] = container["image"].rsplit(":", 1)[0] + ":main"


k8s.yaml.ConfigFile("api", file="manifests/api.yaml", transformations=[unpin])  # line:configfile
k8s.yaml.ConfigGroup("group", files=["manifests/api.yaml"], resource_prefix="g")  # line:configgroup
'''

YAML_V2 = '''"""A team's program: manifests through yaml.v2 (built by the provider), with a transform."""

import pulumi
import pulumi_kubernetes as k8s


def unpin(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """The team's transform, run by the engine on the provider's children."""
    if args.type_ != "kubernetes:apps/v1:Deployment":
        return None
    props = dict(args.props)
    container = props["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].rsplit(":", 1)[0] + ":main"
    return pulumi.ResourceTransformResult(props, args.opts)


k8s.yaml.v2.ConfigFile(  # line:configfile
    "api", file="manifests/api.yaml", opts=pulumi.ResourceOptions(transforms=[unpin])
)
k8s.yaml.v2.ConfigGroup("group", files=["manifests/api.yaml"])  # line:configgroup
'''
MANIFEST_FILES = {"manifests/api.yaml": MANIFEST}


def write_project(
    root: Path, program: str, extra: dict[str, str] | None = None, *, stack_file: str = STACK_FILE
) -> Path:
    """A project at ``root``: ``Pulumi.yaml`` (``team-web``), stack ``dev``, ``program``, ``extra`` files."""
    files = {
        "Pulumi.yaml": PULUMI_YAML,
        "Pulumi.dev.yaml": stack_file,
        "__main__.py": program,
        **(extra or {}),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def line_of(program: str, mark: str) -> int:
    """The line of ``program`` marked ``# line:<mark>``."""
    return next(
        i for i, text in enumerate(program.splitlines(), 1) if text.rstrip().endswith(f"# line:{mark}")
    )


CHART_FILES = {
    "chart/Chart.yaml": CHART_YAML,
    "chart/values.yaml": CHART_VALUES,
    "chart/templates/deployment.yaml": CHART_DEPLOYMENT,
}
