"""`mlops toolchain`: build, locate and describe the pinned Pulumi engine toolchain.

Thin commands over ``mlops_platform.tools.toolchain``, imported inside each command so ``mlops --help``
stays fast. Failures exit 2 with a message, never a traceback.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Annotated

import typer
from rich.console import Console

EXIT_NOT_INSTALLED = 2

toolchain_app = typer.Typer(
    help="Build the pinned Pulumi CLI, kubernetes provider, kube-apiserver and etcd from registries, cached.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_out = Console(soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    _err.print(f"error: {message}", markup=False)
    return typer.Exit(EXIT_NOT_INSTALLED)


@toolchain_app.command("install")
def install_command(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Component to install (repeatable): pulumi-cli, kubernetes-provider, kube-apiserver, "
            "etcd, crds. The CLI and the provider are always included. Default: all.",
        ),
    ] = None,
) -> None:
    """Build whatever is missing (cold: about 40 min on 2 cores; warm: a file check)."""
    from mlops_platform.tools.toolchain import ToolchainError, install

    try:
        toolchain = install(components=only or None, progress=lambda line: _err.print(line, markup=False))
    except ToolchainError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        _err.print("interrupted: the unfinished build was discarded", markup=False)
        raise typer.Exit(130) from None
    _err.print(f"toolchain ready under {toolchain.root}", markup=False)


@toolchain_app.command("env")
def env_command() -> None:
    """Print `export K=V` lines for `eval "$(mlops toolchain env)"` (exit 2 if not installed)."""
    from mlops_platform.tools.toolchain import env_exports, installed

    toolchain = installed()
    if toolchain is None:
        raise _fail("the toolchain is not installed: run `mlops toolchain install` first")
    lines = [f"export {name}={shlex.quote(value)}" for name, value in env_exports(toolchain).items()]
    sys.stdout.write("\n".join(lines) + "\n")


@toolchain_app.command("status")
def status_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Show each component's version, cache key, directory, size and whether it is built."""
    from mlops_platform.tools.toolchain import status

    if fmt not in {"table", "json"}:
        raise _fail(f"--format: must be table or json (got {fmt!r})")
    rows = status()
    if fmt == "json":
        data = [
            {
                "component": r.name,
                "version": r.version,
                "key": r.key,
                "path": str(r.path),
                "size_bytes": r.size_bytes,
                "built": r.built,
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    root = rows[0].path.parent if rows else None
    table = Table(title=f"toolchain cache: {root}", title_justify="left")
    for column in ("component", "state", "key", "size"):
        table.add_column(column, no_wrap=True)
    table.add_column("version")
    table.add_column("directory", overflow="fold")
    for r in rows:
        size = f"{r.size_bytes / 1e6:.0f} MB" if r.size_bytes is not None else ""
        state = Text("built", style="green") if r.built else Text("missing", style="red")
        table.add_row(r.name, state, r.key, size, r.version, Text(r.path.name))
    _out.print(table)
