"""Model workloads however they are deployed: our label, an opt-in label, a serving CRD, or a known server.

The governance rules judge model-serving workloads. Ours carry ``app.kubernetes.io/component:
model-server``; any other workload is one when it says so (``mlops.dev/model-workload: "true"``), when
it is a serving custom resource (KServe ``InferenceService``, Seldon ``SeldonDeployment`` and
``Model``), or when one of its containers runs a known inference server, recognised by the image
repository or the command line that starts it:

========================  =====================================================================
server                    recognised by
========================  =====================================================================
vLLM                      image ``vllm/vllm-openai``; ``vllm serve``; ``vllm.entrypoints``
Text Generation Inference image ``text-generation-inference``; ``text-generation-launcher``
Triton                    image ``tritonserver``; ``tritonserver`` command
TorchServe                image ``torchserve``; ``torchserve`` command
llama.cpp                 image ``llama.cpp``; ``llama-server`` command
Ollama                    image ``ollama/ollama``; ``ollama serve``
BentoML                   image ``bentoml``; ``bentoml serve``
MLflow                    ``mlflow models serve``
========================  =====================================================================

A model pulled from a hub at start must name a revision: :func:`unpinned_models` finds hub names
(``org/name``) given to ``--model``, ``--model-id``, ``--hf-repo``/``-hf``, a positional ``vllm serve``
argument or a ``MODEL_ID``/``HF_MODEL_ID`` env var without a ``--revision`` (or ``REVISION`` env).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.policies.rules import _docker, _k8s
from mlops_platform.policies.rules._images import parse_image
from mlops_platform.policies.rules._model import Res, as_list, get

# Serving custom resources: (API group, kind).
SERVING_KINDS = frozenset(
    {
        ("serving.kserve.io", "InferenceService"),
        ("machinelearning.seldon.io", "SeldonDeployment"),
        ("mlops.seldon.io", "Model"),
    }
)
# (server, image repository fragment, command-line pattern)
_SERVERS: tuple[tuple[str, str | None, re.Pattern[str] | None], ...] = (
    ("vLLM", "vllm/vllm-openai", re.compile(r"(^|\s|/)vllm\s+serve\b|vllm\.entrypoints")),
    ("TGI", "text-generation-inference", re.compile(r"(^|\s|/)text-generation-launcher\b")),
    ("Triton", "tritonserver", re.compile(r"(^|\s|/)tritonserver\b")),
    ("TorchServe", "torchserve", re.compile(r"(^|\s|/)torchserve\b")),
    ("llama.cpp", "llama.cpp", re.compile(r"(^|\s|/)llama-server\b")),
    ("Ollama", "ollama/ollama", re.compile(r"(^|\s|/)ollama\s+serve\b")),
    ("BentoML", "bentoml", re.compile(r"(^|\s|/)bentoml\s+serve\b")),
    ("MLflow", None, re.compile(r"(^|\s|/)mlflow\s+models\s+serve\b")),
)
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.-]+)?$")  # org/name (llama.cpp: org/name:quant)
_MODEL_FLAGS = ("--model", "--model-id", "--hf-repo", "-hf", "--served-model")
_MODEL_ENVS = ("MODEL_ID", "HF_MODEL_ID", "MODEL_NAME_OR_PATH")
_REVISION_FLAGS = ("--revision", "--hf-revision", "--code-revision")
_REVISION_ENVS = ("REVISION", "HF_REVISION", "MODEL_REVISION")


def _api_group_kind(res: Res) -> tuple[str, str]:
    """(group, kind) of a Kubernetes object from its type token (``kubernetes:<group>/<version>:<kind>``)."""
    parts = res.type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return "", ""
    return parts[1].rsplit("/", 1)[0], parts[2]


def is_serving_resource(res: Res) -> bool:
    """A serving custom resource (KServe, Seldon)."""
    return _api_group_kind(res) in SERVING_KINDS


class _Process:
    """One container's image, command line and env, for Kubernetes and Docker alike."""

    def __init__(self, where: str, image: Any, argv: list[str], env: dict[str, str]) -> None:
        self.where, self.image, self.argv, self.env = where, image, argv, env

    @property
    def command_line(self) -> str:
        return " ".join(self.argv)


def _strings(value: Any) -> list[str]:
    return [v for v in as_list(value) if isinstance(v, str)]


def processes(res: Res) -> Iterator[_Process]:
    """Every container of a workload (or a Docker container) as an image, argv and literal env."""
    if res.type == _docker.CONTAINER:
        env = {n: v for _i, n, v in _docker.envs(res) if isinstance(n, str) and isinstance(v, str)}
        argv = _strings(res.props.get("entrypoints")) + _strings(res.props.get("command"))
        yield _Process("container", res.props.get("image"), argv, env)
        return
    if not _k8s.is_workload(res):
        return
    for c in _k8s.containers(res, include_init=False):
        env = {}
        for item in as_list(c.spec.get("env")):
            name, value = get(item, "name"), get(item, "value")
            if isinstance(name, str) and isinstance(value, str):
                env[name] = value
        argv = _strings(c.spec.get("command")) + _strings(c.spec.get("args"))
        yield _Process(f'container "{c.name}"', c.spec.get("image"), argv, env)


def inference_server(res: Res) -> str | None:
    """The known inference server one of the resource's containers runs, or None."""
    for process in processes(res):
        image = process.image if isinstance(process.image, str) and process.image.strip() else ""
        repository = parse_image(image.strip()).repository if image else ""
        line = process.command_line
        for server, fragment, pattern in _SERVERS:
            if fragment is not None and fragment in repository:
                return server
            if pattern is not None and pattern.search(line):
                return server
    return None


def opted_in(labels: Any) -> bool:
    """Whether labels carry the explicit opt-in ``mlops.dev/model-workload: "true"``."""
    return isinstance(labels, dict) and labels.get(L.MODEL_WORKLOAD) == "true"


def _flag_value(argv: list[str], flags: tuple[str, ...]) -> str | None:
    for index, arg in enumerate(argv):
        for flag in flags:
            if arg == flag and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
    return None


def _positional_vllm_model(argv: list[str]) -> str | None:
    """``vllm serve <model>``: the argument after ``serve``, when it is not a flag."""
    for index, arg in enumerate(argv[:-1]):
        if arg == "serve" and index > 0 and argv[index - 1].endswith("vllm"):
            candidate = argv[index + 1]
            return None if candidate.startswith("-") else candidate
    return None


def unpinned_models(res: Res) -> list[tuple[str, str]]:
    """``(where, hub name)`` of each model a container pulls from a hub at start without a revision."""
    out = []
    for process in processes(res):
        name = (
            _flag_value(process.argv, _MODEL_FLAGS)
            or _positional_vllm_model(process.argv)
            or next((process.env[k] for k in _MODEL_ENVS if k in process.env), None)
        )
        if name is None or not _HUB_NAME.match(name):
            continue
        revision = _flag_value(process.argv, _REVISION_FLAGS) or next(
            (process.env[k] for k in _REVISION_ENVS if process.env.get(k)), None
        )
        if not revision:
            out.append((process.where, name))
    return out
