"""One reading of the stack file: what the real engine hands the program is what the tools validate.

The same tricky stack files go to the real Pulumi CLI (an ephemeral stack, an inline program that
records the config it receives) and to the tools (``load_stack_config`` for the offline engine,
``load_environment`` for ``mlops validate``): keys without a namespace, the old ``ns:config:key``
spelling, provider keys, a secret, and one key in both forms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.stacks.loader import load_environment, spec_from_pulumi_config
from mlops_platform.stacks.program import stack_config_values
from mlops_platform.stacks.schema import EnvironmentSpec
from mlops_platform.stacks.yaml_source import SourceError
from mlops_platform.tools.engine.config import load_stack_config
from mlops_platform.tools.engine_pulumi.workspace import EngineTools, open_stack
from tests.realengine.conftest import REPO

pytestmark = pytest.mark.slow


def _received(engine_tools: EngineTools, env_file: Path) -> dict[str, Any]:
    """What an inline program run by the real engine's preview receives: its config and its spec."""
    got: dict[str, Any] = {}

    def probe() -> None:
        values, secret_keys = stack_config_values()
        got["values"], got["secret_keys"] = dict(values), set(secret_keys)
        got["spec"] = spec_from_pulumi_config(values, secret_keys, env_file.name.split(".")[1])

    with open_stack(env_file, tools=engine_tools) as handle:
        handle.stack.preview(program=probe, color="never")
    assert "values" in got, "the probe program did not run"
    return got


def _unnamespaced_prod(tmp_path: Path) -> Path:
    """Prod with its environment and monitoring sections written without the namespace, storage in the
    old ``mlops-platform:config:`` spelling, provider keys and a secret without a namespace."""
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"]
    tricky: dict[str, Any] = {}
    for key, value in config.items():
        name = key.removeprefix("mlops-platform:")
        if name in {"environment", "monitoring"}:
            tricky[name] = value
        elif name == "storage":
            tricky["mlops-platform:config:storage"] = value
        else:
            tricky[key] = value
    tricky["kubernetes:context"] = "kind-mlops"
    tricky["kubernetes:namespace"] = "ignored-by-the-spec"
    tricky["pager-webhook"] = {"secure": "v1:AAAAbbbbCCCC:bm90IHJlYWw="}
    path = tmp_path / "env" / "Pulumi.prod.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"config": tricky}, sort_keys=False), encoding="utf-8")
    return path


def test_unnamespaced_keys_reach_the_program_as_the_tools_read_them(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    env_file = _unnamespaced_prod(tmp_path)
    received = _received(engine_tools, env_file)
    offline = load_stack_config(env_file)
    assert received["values"] == offline.values
    assert received["secret_keys"] == set(offline.secret_keys)
    assert received["values"]["kubernetes:context"] == "kind-mlops"
    assert {"mlops-platform:environment", "mlops-platform:storage", "mlops-platform:pager-webhook"} <= set(
        received["values"]
    )
    validated = load_environment(env_file)
    assert isinstance(received["spec"], EnvironmentSpec)
    assert received["spec"] == validated
    assert validated == load_environment(REPO / "stacks" / "Pulumi.prod.yaml")  # the same environment


def test_a_key_in_both_forms_is_refused_where_the_engine_picks_one_silently(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.staging.yaml").read_text(encoding="utf-8"))["config"]
    serving = config["mlops-platform:serving"]
    text = yaml.safe_dump({"config": config}, sort_keys=False)
    text += (
        yaml.safe_dump({"serving": {"models": serving["models"][:1]}}, sort_keys=False)
        .replace("\n", "\n  ")
        .replace("serving:", "  serving:", 1)
    )
    path = tmp_path / "env" / "Pulumi.staging.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
    assert yaml.safe_load(text)["config"]["serving"]["models"] == serving["models"][:1]

    received = _received(engine_tools, path)
    models = yaml.safe_load(received["values"]["mlops-platform:serving"])["models"]
    assert len(models) in {1, 2}, "the engine took one of the two silently"

    with pytest.raises(SourceError) as caught:
        load_environment(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    bare = next(i for i, t in enumerate(lines, 1) if t == "  serving:")
    namespaced = next(i for i, t in enumerate(lines, 1) if t == "  mlops-platform:serving:")
    assert [str(p) for p in caught.value.problems] == [
        f"{caught.value.problems[0].file}:{bare}: serving: sets mlops-platform:serving again (as "
        f"'mlops-platform:serving' on line {namespaced}); a key without a namespace is in the "
        "project's (mlops-platform:): keep one of the two"
    ]
