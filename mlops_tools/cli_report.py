"""`mlops report sign` / `mlops report verify`: bind a reviewer's key to exactly one JSON audit report.

A DSSE envelope (securesystemslib) over the report's bytes; see
:mod:`mlops_platform.tools.reports.signing`. Exit 0 verified or signed, 1 verification failed, 2 bad
input; one line on failure, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

report_app = typer.Typer(
    help="Sign and verify JSON audit reports (DSSE envelopes).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_out = Console(soft_wrap=True, highlight=False, markup=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

ReportArg = Annotated[Path, typer.Argument(help="A JSON report of `mlops audit -f json`.")]


@report_app.command("sign")
def sign(
    report: ReportArg,
    key: Annotated[Path, typer.Option("--key", help="PEM private key (Ed25519, ECDSA or RSA), unencrypted.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Envelope file (default: REPORT.dsse.json).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing envelope file.")] = False,
) -> None:
    """Sign REPORT: write a DSSE envelope whose payload is the report, signed with KEY."""
    from mlops_platform.tools.cli_guard import write_output
    from mlops_platform.tools.reports.signing import SigningError, sign_report

    target = output or report.with_name(report.name + ".dsse.json")
    try:
        envelope = sign_report(report, key)
    except SigningError as exc:
        _err.print(f"error: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    write_output(target, envelope, force=force, inputs=[report, key])  # OutputError: exit 2
    _err.print(f"wrote {target}")


@report_app.command("verify")
def verify(
    report: ReportArg,
    key: Annotated[Path, typer.Option("--key", help="PEM public key of the signer.")],
    signature: Annotated[
        Path | None, typer.Option("--signature", help="Envelope file (default: REPORT.dsse.json).")
    ] = None,
) -> None:
    """Verify REPORT against its DSSE envelope and the signer's public KEY."""
    from mlops_platform.tools.reports.signing import SigningError, VerificationFailed, verify_report

    envelope = signature or report.with_name(report.name + ".dsse.json")
    try:
        verified = verify_report(report, envelope, key)
    except SigningError as exc:
        _err.print(f"error: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except VerificationFailed as exc:
        _err.print(f"FAILED: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    _out.print(f"verified: {report} (sha256 {verified.digest}) signed by key {verified.keyid}")
