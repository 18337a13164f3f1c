"""``mlops init DIR``: a new Pulumi project that uses the platform as a library, as ``pulumi new`` starts one.

The project holds what is the project's own, never the library's: ``Pulumi.yaml``, a ``__main__.py``
that calls :func:`mlops_platform.stacks.program.platform_program`, one stack file per tier (dev on
Docker, staging and prod on Kubernetes), the policy config of every tier (written from the rule
catalogue, the one place levels live) and an empty waivers file. It validates and audits clean as
written; the example images and contacts are placeholders to replace.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_platform.tools.atomic_write import WriteRefused, absent, write_atomic
from mlops_platform.tools.policy_config import tier_config_file
from mlops_platform.tools.project import POLICY_CONFIG_DIR, PROJECT_FILE, WAIVERS_FILE

PROJECT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")  # what the Pulumi CLI accepts as a project name
TIERS = ("dev", "staging", "prod")
STACK_FILE_SCHEMA = "stack-file.schema.json"  # beside the stack files, named by their modeline
_EXAMPLE_DIGEST = "sha256:" + "0123456789abcdef" * 4  # a placeholder: pin your image's real digest

MAIN_PY = '''"""Pulumi program: the whole MLOps platform of this project's stack, from its stack config."""

from pathlib import Path

from mlops_platform.stacks.program import platform_program

platform_program(Path(__file__).parent)
'''

WAIVERS_YAML = """# Approved, expiring exceptions to policy violations, applied by `mlops audit`.
# Fields of each entry: policy, selector, environment, reason, owner, approval_ref, expires.
waivers: []
"""


class ScaffoldError(ValueError):
    """The directory already holds a project, or the name is not a Pulumi project name."""


@dataclass(frozen=True, slots=True)
class Organisation:
    """Who the new project's environments belong to (ownership labels on every resource)."""

    owner: str = "ml-platform@example.com"
    team: str = "ml-platform"
    cost_centre: str = "cc-0000"


def _model(tier: str, owner: str) -> dict[str, Any]:
    image = "ghcr.io/acme-ml/serving-runtime:0.9.1"
    if tier == "prod":
        image += f"@{_EXAMPLE_DIGEST}"
    return {
        "name": "example-model",
        "image": image,
        "model": {"name": "example-model", "version": 1},
        "governance": {"owner": owner, "risk_tier": "minimal", "data_classification": "internal"},
    }


def _namespace(name: str, tier: str) -> str:
    """``<name>-<tier>`` as a DNS label: lowercase, ``-`` for other characters, starting with a letter."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    slug = re.sub(r"^[^a-z]+", "", slug) or "mlops"
    return f"{slug[: 62 - len(tier)].rstrip('-')}-{tier}"


def stack_document(name: str, tier: str, org: Organisation) -> dict[str, Any]:
    """The stack file of one tier: only what differs from the library's tier defaults."""
    ns = f"{name}:"
    config: dict[str, Any] = {
        f"{ns}environment": {
            "name": tier,
            "tier": tier,
            "target": "docker" if tier == "dev" else "kubernetes",
            "namespace": _namespace(name, tier),
            "owner": org.owner,
            "team": org.team,
            "cost_centre": org.cost_centre,
            "data_classification_ceiling": "internal",
        },
        f"{ns}serving": {"models": [_model(tier, org.owner)]},
        f"{ns}monitoring": {"receivers": [{"name": "oncall", "kind": "email", "email": org.owner}]},
    }
    if tier == "prod":  # prod pins every image by digest; the tier default of this one is a tag
        config[f"{ns}registry"] = {
            "model_registry": {"image": f"ghcr.io/acme-ml/mlflow-server:3.17.2@{_EXAMPLE_DIGEST}"}
        }
    return {"config": config}


def project_files(name: str, org: Organisation) -> dict[Path, str]:
    """Every file of a new project, relative to its directory."""
    from mlops_platform.policies.catalogue import admission_document, config_document
    from mlops_platform.tools.policy_config import ADMISSION_FILE

    project = {
        "name": name,
        "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}},
        "description": "An MLOps platform (storage, registry, serving, monitoring) on mlops-platform.",
        "stackConfigDir": "stacks",
    }
    files = {
        Path(PROJECT_FILE): yaml.safe_dump(project, sort_keys=False),
        Path("__main__.py"): MAIN_PY,
        Path("requirements.txt"): _requirement(),
        WAIVERS_FILE: WAIVERS_YAML,
    }
    from mlops_platform.stacks.json_schema import render_stack_file_schema

    files[Path("stacks") / STACK_FILE_SCHEMA] = render_stack_file_schema(name)  # keys in its namespace
    for tier in TIERS:
        header = (
            f"# {tier}: only what differs from the library's tier defaults; replace the examples.\n"
            f"# yaml-language-server: $schema={STACK_FILE_SCHEMA}\n"
        )
        files[Path("stacks") / f"Pulumi.{tier}.yaml"] = header + yaml.safe_dump(
            stack_document(name, tier, org), sort_keys=False
        )
        document = config_document(tier)
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        files[tier_config_file(POLICY_CONFIG_DIR, tier)] = text
    files[POLICY_CONFIG_DIR / ADMISSION_FILE] = json.dumps(admission_document(), indent=2) + "\n"
    return files


def _requirement() -> str:
    from mlops_platform import __version__

    return f"mlops-platform=={__version__}\n" if "unknown" not in __version__ else "mlops-platform\n"


def scaffold(directory: Path, *, name: str | None = None, org: Organisation | None = None) -> list[Path]:
    """Write a new project into ``directory`` (created if missing); return the files written.

    Raises:
        ScaffoldError: ``directory`` already has a ``Pulumi.yaml`` or would have a file overwritten
            (nothing is written then), or ``name`` is not a valid project name.
    """
    name = name or directory.resolve().name
    if not PROJECT_NAME.fullmatch(name):
        raise ScaffoldError(f"--name: not a Pulumi project name (letters, digits, '_', '.', '-'): {name!r}")
    files = project_files(name, org or Organisation())
    root = directory.resolve()
    taken = [path for path in files if os.path.lexists(directory / path)]  # a dangling link is taken too
    if taken:
        raise ScaffoldError(f"{directory}: already holds {', '.join(map(str, taken))}; nothing written")
    outside = [path for path in files if not (directory / path).resolve().is_relative_to(root)]
    if outside:
        raise ScaffoldError(
            f"{directory}: {', '.join(map(str, outside))} would be written outside the project through a "
            "symbolic link; nothing written"
        )
    written = []
    for path, text in files.items():
        target = directory / path
        try:
            write_atomic(target, text, expect=absent(target), follow_symlinks=False, create_dirs=True)
        except WriteRefused as exc:
            raise ScaffoldError(str(exc)) from None
        written.append(target)
    return written
