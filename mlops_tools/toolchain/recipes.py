"""How each kind of component is built into its staging directory.

Every builder fills ``ctx.work`` with the component's outputs (binaries under ``bin/``, files under a
directory per file set) and returns extra manifest fields. Nothing here decides where a finished
component lives or whether it is already there: that is ``installer``'s job.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_platform.tools.toolchain.commands import Progress, ToolchainError, run_captured, run_logged, step
from mlops_platform.tools.toolchain.pins import (
    AptPackage,
    Component,
    GoModule,
    ModuleFiles,
    ProviderBuild,
    WrapperBuild,
)

GOMOD_DIR = Path(__file__).resolve().parent / "gomod"
WRAPPER_FILES = ("go.mod", "go.sum", "tools.go")


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a builder needs: where to write, how to run go, whom to tell."""

    component: Component
    work: Path
    go: str
    env: dict[str, str]
    logs: Path
    progress: Progress

    @property
    def label(self) -> str:
        """``<name> <version>``, the prefix of every progress line."""
        return f"{self.component.name} {self.component.version}"

    def log(self, what: str) -> Path:
        """The log file of one step."""
        return self.logs / f"{self.component.name}.{what}.log"


def build(ctx: BuildContext) -> dict[str, Any]:
    """Build ``ctx.component`` into ``ctx.work``; return extra manifest fields."""
    recipe = ctx.component.recipe
    if isinstance(recipe, WrapperBuild):
        return _build_wrapper(ctx, recipe)
    if isinstance(recipe, ProviderBuild):
        return _build_provider(ctx, recipe)
    if isinstance(recipe, AptPackage):
        return _install_apt(ctx, recipe)
    return _copy_module_files(ctx, recipe)


def wrapper_files(wrapper: str) -> dict[str, str]:
    """The wrapper module's files by name, as text (part of the cache key)."""
    directory = GOMOD_DIR / wrapper
    try:
        return {name: (directory / name).read_text(encoding="utf-8") for name in WRAPPER_FILES}
    except OSError as exc:
        raise ToolchainError(f"wrapper module {directory} is incomplete: {exc}") from None


def go_flags(*, tags: tuple[str, ...], ldflags: tuple[str, ...]) -> list[str]:
    """The ``go build`` flags shared by every Go recipe (reproducible, no VCS stamp)."""
    flags = ["-trimpath", "-buildvcs=false"]
    if tags:
        flags.append("-tags=" + ",".join(tags))
    return [*flags, "-ldflags=" + " ".join(ldflags)]


def _build_wrapper(ctx: BuildContext, recipe: WrapperBuild) -> dict[str, Any]:
    # Built from a copy: the package may sit in a read-only site-packages, and a module inside the
    # repository would get a VCS stamp that differs per commit.
    src = ctx.work / ".src"
    src.mkdir()
    for name, text in wrapper_files(recipe.wrapper).items():
        (src / name).write_text(text, encoding="utf-8")
    bin_dir = ctx.work / "bin"
    bin_dir.mkdir()
    with step(ctx.progress, f"{ctx.label}: download"):
        run_logged([ctx.go, "mod", "download"], cwd=src, env=ctx.env, log=ctx.log("download"))
    flags = go_flags(tags=recipe.tags, ldflags=recipe.ldflags)
    with step(ctx.progress, f"{ctx.label}: build"):
        command = [ctx.go, "build", *flags, "-o", f"{bin_dir}{os.sep}", *recipe.packages]
        run_logged(command, cwd=src, env=ctx.env, log=ctx.log("build"))
    shutil.rmtree(src)
    extra: dict[str, Any] = {}
    if recipe.version_args:
        extra["version_output"] = check_version(
            bin_dir / recipe.binaries[0], recipe.version_args, ctx.component.version
        )
    return extra


def _build_provider(ctx: BuildContext, recipe: ProviderBuild) -> dict[str, Any]:
    src = ctx.work / ".src"
    with step(ctx.progress, f"{ctx.label}: download"):
        module_dir = download_module(ctx, ctx.component.modules[0])
        shutil.copytree(module_dir, src)
        _make_writable(src)
        for replace in recipe.replaces:
            edit = f"-replace={replace.path}={replace.path}@{replace.version}"
            run_captured([ctx.go, "mod", "edit", edit], cwd=src, env=ctx.env)
        write_schema_embeds(src / recipe.cmd_dir, recipe.schema_version)
        run_logged([ctx.go, "mod", "download"], cwd=src, env=ctx.env, log=ctx.log("download"))
    bin_dir = ctx.work / "bin"
    bin_dir.mkdir()
    # -mod=mod: the replaced SDK needs go.sum lines the module does not ship; they are added to
    # this throwaway copy only, and checked against the checksum database like any download.
    flags = ["-mod=mod", *go_flags(tags=(), ldflags=recipe.ldflags)]
    with step(ctx.progress, f"{ctx.label}: build"):
        command = [ctx.go, "build", *flags, "-o", str(bin_dir / recipe.binary), f"./{recipe.cmd_dir}"]
        run_logged(command, cwd=src, env=ctx.env, log=ctx.log("build"))
    shutil.rmtree(src)
    return {}


def write_schema_embeds(cmd_dir: Path, version: str) -> None:
    """Do what the provider's ``generate.go`` does before ``go build`` embeds the schema.

    Args:
        cmd_dir: The provider's main package directory, holding ``schema.json``.
        version: The provider version written into the schema's top-level ``version``.
    """
    try:
        schema = json.loads((cmd_dir / "schema.json").read_text(encoding="utf-8"))
        mapping = json.loads((cmd_dir / "terraform-mapping.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ToolchainError(f"cannot read the provider schema in {cmd_dir}: {exc}") from None
    schema["version"] = version
    for name, value in (("schema-embed.json", schema), ("terraform-mapping-embed.json", mapping)):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        (cmd_dir / name).write_text(text, encoding="utf-8")


def _install_apt(ctx: BuildContext, recipe: AptPackage) -> dict[str, Any]:
    binary = Path(recipe.binary)
    if not binary.is_file():
        with step(ctx.progress, f"{ctx.label}: apt-get install {recipe.package}"):
            sudo = [] if os.geteuid() == 0 else ["sudo"]
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            log = ctx.log("apt")
            run_logged([*sudo, "apt-get", "update", "-qq"], cwd=ctx.work, env=env, log=log)
            install = [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", recipe.package]
            run_logged(install, cwd=ctx.work, env=env, log=log)
    query = ["dpkg-query", "-W", "-f=${Version}", recipe.package]
    package_version = run_captured(query, cwd=ctx.work, env=os.environ).strip()
    if not package_version.startswith(recipe.version_prefix):
        raise ToolchainError(
            f"{recipe.package} {package_version} is installed, the toolchain pins {recipe.version_prefix}"
        )
    bin_dir = ctx.work / "bin"
    bin_dir.mkdir()
    copied = bin_dir / binary.name
    shutil.copy2(binary, copied)
    output = check_version(copied, recipe.version_args, ctx.component.version)
    return {"package_version": package_version, "version_output": output}


def _copy_module_files(ctx: BuildContext, recipe: ModuleFiles) -> dict[str, Any]:
    with step(ctx.progress, f"{ctx.label}: download"):
        for file_set in recipe.sets:
            source = download_module(ctx, file_set.module) / file_set.directory
            files = sorted(source.glob(file_set.pattern))
            if not files:
                raise ToolchainError(f"{file_set.module}: no {file_set.pattern} under {file_set.directory}")
            target = ctx.work / file_set.name
            target.mkdir()
            for path in files:
                shutil.copyfile(path, target / path.name)
    return {}


def download_module(ctx: BuildContext, module: GoModule) -> Path:
    """``go mod download -json module@version`` into the shared module cache; its directory."""
    output = run_captured([ctx.go, "mod", "download", "-json", str(module)], cwd=ctx.work, env=ctx.env)
    try:
        directory = Path(json.loads(output)["Dir"])
    except (ValueError, KeyError, TypeError):
        raise ToolchainError(f"go mod download {module}: unexpected answer:\n{output[-2000:]}") from None
    if not directory.is_dir():
        raise ToolchainError(f"go mod download {module}: {directory} is missing")
    return directory


def check_version(binary: Path, args: tuple[str, ...], expected: str) -> str:
    """Run ``binary args`` and require ``expected`` in what it prints; return the first line."""
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    output = run_captured([str(binary), *args], cwd=binary.parent, env=env).strip()
    if expected not in output:
        raise ToolchainError(f"`{binary.name} {' '.join(args)}` printed {output!r}, expected {expected}")
    return output.splitlines()[0] if output else ""


def _make_writable(tree: Path) -> None:
    """Module cache copies are read-only unless the cache was filled with -modcacherw."""
    for path in [tree, *tree.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR)
