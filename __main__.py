"""Pulumi program entry point: ``pulumi up`` runs this file; the program itself is one function."""

from pathlib import Path

from mlops_platform.stacks.program import platform_program

platform_program(Path(__file__).parent)
