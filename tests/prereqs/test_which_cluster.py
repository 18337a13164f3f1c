"""Which cluster a stack targets: one answer (``provider_cluster``), in the kubernetes provider's order.

The provider (pulumi-kubernetes ``Configure``) takes a non-empty ``kubernetes:kubeconfig`` first, then
client-go's default loading rules, which kubectl shares: the files of ``$KUBECONFIG`` merged (the first
to set a value wins), else ``~/.kube/config``; ``kubernetes:context`` and ``kubernetes:cluster``
override. Each case is checked against kubectl itself where kubectl can express it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops_platform.tools.cluster_prereqs import (
    DEFAULT_KUBECONFIG,
    PrerequisiteError,
    api_client,
    provider_cluster,
)
from mlops_platform.tools.engine_pulumi.operations import StackChoice, stack_cluster
from mlops_platform.tools.project import Project

REPO = Path(__file__).resolve().parents[2]


def _kubeconfig(path: Path, *clusters: str, current: str | None) -> Path:
    """A kubeconfig with a cluster, user and context per name (server ``https://<name>.test:6443``)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": c, "cluster": {"server": f"https://{c}.test:6443"}} for c in clusters],
        "users": [{"name": c, "user": {"token": f"token-{c}"}} for c in clusters],
        "contexts": [{"name": f"ctx-{c}", "context": {"cluster": c, "user": c}} for c in clusters],
    }
    if current is not None:
        doc["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _host(settings: dict[str, str], env: dict[str, str]) -> str:
    return str(api_client(provider_cluster(settings, env)).configuration.host)


def _kubectl_server(env: dict[str, str], *flags: str) -> str:
    """The server kubectl would talk to with ``env`` and ``flags`` (``--context``, ``--cluster``)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is not installed: the precedence is checked against it")
        pytest.skip("kubectl is not installed")
    done = subprocess.run(
        [kubectl, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}", *flags],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def homes(tmp_path: Path) -> dict[str, Path]:
    """A home with ``~/.kube/config`` (cluster ``home``) and two more files (``a``+``shared``, ``b``)."""
    home = tmp_path / "home"
    return {
        "home": home,
        "default": _kubeconfig(home / ".kube" / "config", "home", current="ctx-home"),
        "a": _kubeconfig(tmp_path / "a.yaml", "a", "shared", current="ctx-a"),
        "b": _kubeconfig(tmp_path / "b.yaml", "b", current="ctx-b"),
    }


def test_stack_kubeconfig_wins_over_the_environment(homes: dict[str, Path]) -> None:
    env = {"HOME": str(homes["home"]), "KUBECONFIG": str(homes["a"])}
    ref = provider_cluster({"kubeconfig": str(homes["b"])}, env)
    assert (ref.source, ref.paths, ref.named) == ("kubernetes:kubeconfig", (str(homes["b"]),), True)
    assert _host({"kubeconfig": str(homes["b"])}, env) == "https://b.test:6443"
    text = homes["b"].read_text(encoding="utf-8")
    assert _host({"kubeconfig": text}, env) == "https://b.test:6443"  # its YAML, not a path


def test_kubeconfig_list_first_current_context_wins_as_kubectl(homes: dict[str, Path]) -> None:
    env = {"HOME": str(homes["home"]), "KUBECONFIG": f"{homes['b']}{os.pathsep}{homes['a']}"}
    assert _kubectl_server(env) == "https://b.test:6443"
    assert _host({}, env) == "https://b.test:6443"  # the kubernetes client alone would take a's
    # Entries of every listed file are there: a context of the second file, by name.
    assert _kubectl_server(env, "--context", "ctx-a") == "https://a.test:6443"
    assert _host({"context": "ctx-a"}, env) == "https://a.test:6443"


def test_missing_files_in_the_list_are_skipped(homes: dict[str, Path], tmp_path: Path) -> None:
    env = {"HOME": str(homes["home"]), "KUBECONFIG": f"{tmp_path / 'gone.yaml'}{os.pathsep}{homes['a']}"}
    assert _kubectl_server(env) == "https://a.test:6443"
    assert _host({}, env) == "https://a.test:6443"


def test_empty_or_unset_kubeconfig_falls_back_to_home(homes: dict[str, Path]) -> None:
    for env in ({"HOME": str(homes["home"])}, {"HOME": str(homes["home"]), "KUBECONFIG": ""}):
        ref = provider_cluster({}, env)
        assert (ref.source, ref.named) == (DEFAULT_KUBECONFIG, False)
        assert _kubectl_server(env) == "https://home.test:6443"
        assert _host({}, env) == "https://home.test:6443"


def test_context_and_cluster_override(homes: dict[str, Path]) -> None:
    env = {"HOME": str(homes["home"]), "KUBECONFIG": str(homes["a"])}
    assert provider_cluster({"context": "ctx-shared"}, {"HOME": str(homes["home"])}).named
    assert _kubectl_server(env, "--context", "ctx-shared") == "https://shared.test:6443"
    assert _host({"context": "ctx-shared"}, env) == "https://shared.test:6443"
    # `kubectl config view --minify` ignores --cluster; the provider sets ConfigOverrides.Context.Cluster.
    assert _host({"cluster": "shared"}, env) == "https://shared.test:6443"
    assert _host({"context": "ctx-a", "cluster": "shared"}, env) == "https://shared.test:6443"


def test_no_kubeconfig_at_all_is_a_located_error(tmp_path: Path) -> None:
    expected = r"no kubeconfig: none of .*gone\.yaml exists \(\$KUBECONFIG\)"
    with pytest.raises(PrerequisiteError, match=expected):
        api_client(provider_cluster({}, {"KUBECONFIG": str(tmp_path / "gone.yaml")}))


def test_a_stack_reads_its_config_then_the_run_environment(
    homes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(homes["a"]))
    monkeypatch.setenv("HOME", str(homes["home"]))
    project = Project.load(REPO)
    plain = tmp_path / "stacks" / "Pulumi.plain.yaml"
    plain.parent.mkdir()
    plain.write_text("config: {}\n", encoding="utf-8")
    assert stack_cluster(StackChoice(plain, project=project)).paths == (str(homes["a"]),)
    run_env = StackChoice(plain, project=project, env={"KUBECONFIG": str(homes["b"])})
    assert stack_cluster(run_env).paths == (str(homes["b"]),)  # the run's environment over this process's
    named = tmp_path / "stacks" / "Pulumi.named.yaml"
    named.write_text(f"config:\n  kubernetes:kubeconfig: {homes['default']}\n", encoding="utf-8")
    ref = stack_cluster(StackChoice(named, project=project, env={"KUBECONFIG": str(homes["b"])}))
    assert (ref.source, ref.paths) == ("kubernetes:kubeconfig", (str(homes["default"]),))
    overridden = StackChoice(named, project=project, config={"kubernetes:context": "ctx-home"})
    assert stack_cluster(overridden).context == "ctx-home"  # the run's settings over the file's
