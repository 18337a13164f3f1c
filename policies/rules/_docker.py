"""Docker helpers: labels as a dict, env entries, published ports."""

from __future__ import annotations

from typing import Any

from mlops_platform.policies.rules._model import Res, Unknown, as_list

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
LABELABLE = frozenset({CONTAINER, NETWORK, VOLUME})


def labels(res: Res) -> dict[str, Any]:
    """``labels: [{label, value}]`` as a dict; an unknown list yields ``{}`` (see :func:`labels_unknown`)."""
    out: dict[str, Any] = {}
    for item in as_list(res.props.get("labels")):
        if isinstance(item, dict) and isinstance(item.get("label"), str):
            out[item["label"]] = item.get("value")
    return out


def labels_unknown(res: Res) -> bool:
    return isinstance(res.props.get("labels"), Unknown)


def envs(res: Res) -> list[tuple[int, Any, Any]]:
    """``envs: ["K=V"]`` as ``(index, name, value)``; an unknown entry gives ``(i, Unknown, Unknown)``."""
    out: list[tuple[int, Any, Any]] = []
    for index, item in enumerate(as_list(res.props.get("envs"))):
        if isinstance(item, Unknown):
            out.append((index, item, item))
        elif isinstance(item, str):
            name, _, value = item.partition("=")
            out.append((index, name, value))
    return out
