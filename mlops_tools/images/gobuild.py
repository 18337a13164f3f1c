"""Go binaries of the images, built from the module proxy and cached apart from the images.

Each binary is built in a throwaway wrapper module that requires the upstream module at its pinned
version (``go get <package>@<version>``), the way the toolchain builds the Prometheus Operator: a
dependency's ``replace`` directives are ignored by Go, so the wrapper copies the ones that point to
other modules (Prometheus swaps klog for klog-gokit) and drops those that point into the module's
own tree (the operator's ``./pkg/apis/monitoring``: the same code is published at the same version).
``go install pkg@version`` would refuse such modules outright.

The module and build caches are the toolchain's (``go_environment``), so a warm toolchain makes
these builds cheaper and the other way round.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from mlops_platform.tools import build_cache
from mlops_platform.tools.images.recipes import GoBinary
from mlops_platform.tools.toolchain.cache import cache_root
from mlops_platform.tools.toolchain.commands import (
    Progress,
    ToolchainError,
    go_binary,
    go_environment,
    go_version,
    run_captured,
    run_logged,
    step,
)

WRAPPER_MODULE = "mlops-platform/images/build"


def binary_name(binary: GoBinary) -> str:
    """The file name of the binary (``prometheus``)."""
    return Path(binary.path).name


def binary_key(binary: GoBinary) -> str:
    """Everything that determines the built binary."""
    return build_cache.cache_key(
        {
            "module": str(binary.module),
            "package": binary.package,
            "ldflags": list(binary.ldflags),
            "go": go_version(),
        }
    )


def ensure_binary(binary: GoBinary, root: Path, progress: Progress) -> Path:
    """The built binary of ``binary`` (from the cache under ``root``, built first when missing).

    Raises:
        build_cache.BuildCacheError: go is missing or the build failed; the message has the log's tail.
    """
    name = binary_name(binary)

    def build(work: Path) -> dict[str, Any]:
        go = go_binary()
        if go is None:
            raise ToolchainError("go is not on PATH: install Go 1.26 (the toolchain's builds need it too)")
        env = go_environment(cache_root())
        src = work / ".src"
        src.mkdir()
        logs = work / ".logs"
        label = f"image binary {name} ({binary.module})"
        with step(progress, f"{label}: download"):
            run_captured([str(go), "mod", "init", WRAPPER_MODULE], cwd=src, env=env)
            for replace in _replaces(str(go), binary, src, env):
                run_captured([str(go), "mod", "edit", f"-replace={replace}"], cwd=src, env=env)
            get = [str(go), "get", f"{binary.package}@{binary.module.version}"]
            run_logged(get, cwd=src, env=env, log=logs / "get.log")
        flags = ["-trimpath", "-buildvcs=false", "-ldflags=" + " ".join(("-s", "-w", *binary.ldflags))]
        with step(progress, f"{label}: go build"):
            out = work / "bin" / name
            command = [str(go), "build", *flags, "-o", str(out), binary.package]
            run_logged(command, cwd=src, env=env, log=logs / "build.log")
        shutil.rmtree(src)
        shutil.rmtree(logs)
        return {"module": str(binary.module), "package": binary.package, "go": go_version()}

    def verify(work: Path) -> None:
        out = work / "bin" / name
        if not out.is_file() or not os.access(out, os.X_OK):
            raise ToolchainError(f"go build left no executable {out}")

    entry = build_cache.ensure(
        root, f"go-{name}", binary_key(binary), build, verify=verify, list_files=True, progress=progress
    )
    return entry.path / "bin" / name


def _replaces(go: str, binary: GoBinary, src: Path, env: dict[str, str]) -> list[str]:
    """The module's ``replace`` directives that name another module (``old[@v]=new@v``)."""
    answer = run_captured([go, "mod", "download", "-json", str(binary.module)], cwd=src, env=env)
    try:
        mod_file = Path(json.loads(answer)["GoMod"])
        edit = json.loads(run_captured([go, "mod", "edit", "-json", str(mod_file)], cwd=src, env=env))
    except (ValueError, KeyError, TypeError):
        raise ToolchainError(
            f"go mod download {binary.module}: unexpected answer:\n{answer[-2000:]}"
        ) from None
    replaces = []
    for item in edit.get("Replace") or ():
        old, new = item["Old"], item["New"]
        if not new.get("Version"):
            continue  # a directory of the module's own tree: its published module at the same version
        old_ref = old["Path"] + (f"@{old['Version']}" if old.get("Version") else "")
        replaces.append(f"{old_ref}={new['Path']}@{new['Version']}")
    return replaces
