"""``python -m mlops_platform.tools.images``: build the platform's images, push them, map them.

Thin commands over ``builder`` and ``registry``; bad input and failed builds exit 2 with one message,
an internal error exits 70 (``cli_guard``), never a traceback.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

EXIT_FAILED = 2

images_app = typer.Typer(
    help="Build the platform's images from Debian packages, PyPI and Go modules; push them to a registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_out = Console(soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

Names = Annotated[list[str] | None, typer.Argument(help="Images to build (default: all); see `list`.")]
Format = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
Registry = Annotated[str, typer.Option("--registry", help="The local registry's HOST:PORT (plain HTTP).")]


def _progress(line: str) -> None:
    _err.print(line, markup=False)


def _fail(message: str) -> typer.Exit:
    _err.print(f"error: {message}", markup=False)
    return typer.Exit(EXIT_FAILED)


def _build(names: list[str] | None) -> list[object]:
    from mlops_platform.tools.build_cache import BuildCacheError
    from mlops_platform.tools.images.builder import build_images
    from mlops_platform.tools.toolchain.commands import ToolchainError

    try:
        return list(build_images(names or (), progress=_progress))
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    except (BuildCacheError, ToolchainError) as exc:
        raise _fail(str(exc)) from None


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise _fail(f"--format: {fmt!r} is not one of table, json")


def _check_registry(registry: str) -> None:
    host, sep, port = registry.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in registry:
        raise _fail(f"--registry: {registry!r} is not HOST:PORT")


@images_app.command("list")
def list_command(fmt: Format = "table") -> None:
    """The recipes: what each image stands for and how close it is."""
    from mlops_platform.tools.images.recipes import RECIPES

    _check_format(fmt)
    rows = [
        {
            "name": r.name,
            "tag": r.tag,
            "stands_for": r.upstream,
            "software": r.software,
            "entrypoint": list(r.entrypoint),
            "user": r.user,
            "ports": list(r.ports),
            "closeness": r.closeness,
        }
        for r in RECIPES
    ]
    if fmt == "json":
        _out.print_json(json.dumps(rows))
        return
    table = Table("image", "stands for", "software", "entrypoint", "user", "ports")
    for r in RECIPES:
        table.add_row(
            f"{r.name}:{r.tag}",
            r.upstream or "(the platform's own)",
            r.software,
            " ".join(r.entrypoint) or "(none)",
            str(r.user),
            ", ".join(str(port) for port in r.ports),
        )
    _out.print(table)


@images_app.command("build")
def build_command(names: Names = None, fmt: Format = "table") -> None:
    """Build what is missing (one progress line per step with its time); print each image's digest."""
    from mlops_platform.tools.images.builder import BuiltImage

    _check_format(fmt)
    built = [b for b in _build(names) if isinstance(b, BuiltImage)]
    rows = [
        {
            "name": b.recipe.name,
            "tag": b.recipe.tag,
            "digest": b.digest,
            "layout": str(b.layout),
            "built_now": b.built_now,
            "build_seconds": b.manifest.get("build_seconds"),
        }
        for b in built
    ]
    if fmt == "json":
        _out.print_json(json.dumps(rows))
        return
    table = Table("image", "digest", "built", "layout")
    for row in rows:
        table.add_row(
            f"{row['name']}:{row['tag']}",
            str(row["digest"]),
            f"now, {row['build_seconds']} s" if row["built_now"] else "cached",
            str(row["layout"]),
        )
    _out.print(table)


@images_app.command("push")
def push_command(registry: Registry, names: Names = None, fmt: Format = "table") -> None:
    """Build what is missing, push every image to the registry, print upstream ref -> local ref."""
    from mlops_platform.tools.images.builder import BuiltImage
    from mlops_platform.tools.images.registry import image_overrides, pushed
    from mlops_platform.tools.toolchain.commands import ToolchainError

    _check_format(fmt)
    _check_registry(registry)
    built = [b for b in _build(names) if isinstance(b, BuiltImage)]
    try:
        by_digest = pushed(built, registry, progress=_progress)
    except ToolchainError as exc:
        raise _fail(str(exc)) from None
    overrides = image_overrides(registry, [b.recipe for b in built])
    if fmt == "json":
        _out.print_json(json.dumps({"pushed": by_digest, "image_overrides": overrides}))
        return
    for upstream, local in overrides.items():
        _out.print(f"{upstream} -> {local}", markup=False)


@images_app.command("overrides")
def overrides_command(registry: Registry) -> None:
    """Print the `environment.image_overrides` mapping (upstream ref -> local ref) as JSON."""
    from mlops_platform.tools.images.registry import image_overrides

    _check_registry(registry)
    _out.print_json(json.dumps(image_overrides(registry)))


@images_app.command("serve")
def serve_command(
    storage: Annotated[Path, typer.Option("--storage", help="Directory holding the registry's blobs.")],
    address: Annotated[str, typer.Option("--address", help="HOST:PORT to listen on.")] = "127.0.0.1:5000",
) -> None:
    """Run a local registry (Debian's docker-registry) in the foreground until SIGTERM or Ctrl-C."""
    from mlops_platform.tools.images.registry import running_registry
    from mlops_platform.tools.toolchain.commands import ToolchainError

    _check_registry(address)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with running_registry(address, storage.resolve(), progress=_progress) as local:
            _err.print(f"serving http://{address}/v2/ from {storage}; stop with Ctrl-C", markup=False)
            local.process.wait()
    except ToolchainError as exc:
        raise _fail(str(exc)) from None


def run() -> None:
    """The module's entry point, under the same guard as ``mlops``."""
    from mlops_platform.tools.cli_guard import debug_requested, run_guarded

    argv = sys.argv[1:]
    sys.exit(
        run_guarded(lambda: images_app(args=argv, standalone_mode=False), debug=lambda: debug_requested(argv))
    )
