"""Load an environment spec from its Pulumi stack file, apply tier defaults, validate, locate errors.

An environment file ``Pulumi.<env>.yaml`` (in the project's ``stackConfigDir``) is ordinary Pulumi
stack configuration: the spec's sections live under the project's namespace, its name
(``mlops-platform:storage``...). Tier defaults, the library's ``stacks/defaults.yaml``, are merged
underneath, so an environment file states only what differs.
Every problem is reported at once, located at the file and line of the offending key. Nothing here
imports Pulumi: validation stays fast and usable without the SDK.
"""

from __future__ import annotations

import copy
import difflib
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mlops_platform.stacks.credentials_config import (
    CREDENTIAL_ROTATIONS_KEY,
    CREDENTIAL_SEED_KEY,
    SEED_FIX,
    parse_rotations,
)
from mlops_platform.stacks.layers import LAYER_KEY, LAYER_STACKS_KEY, parse_layer, parse_layer_stacks
from mlops_platform.stacks.schema import SECTIONS, EnvironmentSpec, FieldError
from mlops_platform.stacks.yaml_source import (
    LocatedYaml,
    PathKey,
    Problem,
    SourceError,
    format_path,
    read_located_yaml,
)
from mlops_platform.validation import PATTERN_MESSAGES

PROJECT = "mlops-platform"
"""The namespace of a stack file that belongs to no project (and this repository's project name)."""
DEFAULTS_FILE = Path(__file__).resolve().parent / "defaults.yaml"  # library data, shipped in the wheel
MODEL_DEFAULTS_KEY = "model"  # defaults.yaml key merged under every serving.models[] entry

SpecError = SourceError  # the name callers of this module know the exception by

_FRIENDLY_PATTERNS = PATTERN_MESSAGES  # one wording for the spec and the components


def _project_of(start: Path | None) -> Any:
    """The Pulumi project of ``start`` (default: the working directory), or None outside any."""
    from mlops_platform.tools.project import Project, ProjectError  # Pulumi-free, as this module

    try:
        return Project.find(start)
    except ProjectError:
        return None


def _stacks_dir(stacks_dir: Path | None) -> Path:
    """``stacks_dir``, or the stack config directory of the working directory's project."""
    if stacks_dir is not None:
        return stacks_dir
    from mlops_platform.tools.project import Project

    return Project.find().stack_config_dir  # ProjectError (a SourceError) says there is none


def environment_files(stacks_dir: Path | None = None) -> list[Path]:
    """Every ``Pulumi.<env>.yaml`` in the stacks directory (default: the project's), sorted by name."""
    return sorted(_stacks_dir(stacks_dir).glob("Pulumi.*.yaml"))


def resolve_environment(name_or_path: str, stacks_dir: Path | None = None) -> Path:
    """Map a stack name (``prod``) to ``<stackConfigDir>/Pulumi.prod.yaml``; accept a path as given.

    Args:
        name_or_path: a stack name, or a path (ends in ``.yaml``/``.yml`` or holds a ``/``).
        stacks_dir: where stack files live; default: the working directory's project's.
    """
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or "/" in name_or_path:
        return candidate
    stacks_dir = _stacks_dir(stacks_dir)
    path = stacks_dir / f"Pulumi.{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(p.name.split(".")[1] for p in environment_files(stacks_dir)) or "none"
        raise SourceError([Problem(name_or_path, None, "", f"unknown environment (known: {known})")])
    return path


def load_environment(
    name_or_path: str | Path, stacks_dir: Path | None = None, *, project: str | None = None
) -> EnvironmentSpec:
    """Read, merge with tier defaults and validate one environment; raise SourceError on any problem.

    Args:
        name_or_path: a stack file, or a stack name resolved by ``resolve_environment``.
        stacks_dir: where a stack name is looked up; default: the working directory's project's.
        project: the config namespace (the project's name); default: the name of the project the
            file belongs to, ``PROJECT`` for a file outside any project.
    """
    path = name_or_path if isinstance(name_or_path, Path) else resolve_environment(name_or_path, stacks_dir)
    if project is None:
        owner = _project_of(path.resolve().parent)
        project = PROJECT if owner is None else owner.name
    located = read_located_yaml(path)
    sections, problems = _sections_from_stack_file(located, project)
    if sections is None:  # no config mapping: "required key missing" for every section is noise
        raise SourceError(problems)
    try:
        spec = validate_sections(sections, located)
    except SourceError as exc:
        problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise SourceError(sorted(problems, key=lambda p: (p.file, p.line or 0, p.path)))
    return spec


def declares_spec(path: Path, project: str) -> bool:
    """Whether a stack file holds any spec section (``<project>:environment``...).

    A project whose program is not the platform program has stack files without one: tools that run
    any program (``mlops audit``) validate a spec only where a file declares it.
    """
    located = read_located_yaml(path)
    config = located.data.get("config") if isinstance(located.data, dict) else None
    return isinstance(config, dict) and any(f"{project}:{section}" in config for section in SECTIONS)


def spec_from_pulumi_config(
    sections: Mapping[str, Any], stack: str, *, stacks_dir: Path | None = None, project: str = PROJECT
) -> EnvironmentSpec:
    """Validate sections read from ``pulumi.Config``; the stack file, when present, locates errors.

    Args:
        sections: the spec sections as the program read them.
        stack: the stack name.
        stacks_dir: the project's stack config directory; default: the working directory's project's
            (none: errors name the file, without a line).
        project: the config namespace (``pulumi.get_project()``).
    """
    if stacks_dir is None and (owner := _project_of(None)) is not None:
        stacks_dir = owner.stack_config_dir
    name = f"Pulumi.{stack}.yaml"
    located = LocatedYaml(name, None)
    if stacks_dir is not None and (stacks_dir / name).exists():
        located = _relocate_sections(read_located_yaml(stacks_dir / name), project)
    return validate_sections({k: v for k, v in sections.items() if v is not None}, located)


def validate_sections(sections: Mapping[str, Any], located: LocatedYaml) -> EnvironmentSpec:
    """Merge tier defaults under ``sections`` and validate; every problem located in ``located``."""
    defaults = _read_defaults()
    tier = (
        sections.get("environment", {}).get("tier") if isinstance(sections.get("environment"), dict) else None
    )
    merged = _with_defaults(dict(sections), defaults.data, tier)
    try:
        return EnvironmentSpec.model_validate(merged)
    except ValidationError as exc:
        raise SourceError(_problems_from(exc, located, defaults, tier)) from None


def _sections_from_stack_file(
    located: LocatedYaml, project: str
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Pick the spec sections out of a stack file's ``config:`` and relocate their line numbers.

    Sections are None when the file has no ``config:`` mapping at all.
    """
    problems = list(located.duplicates)
    data = located.data
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        config_line = located.lines.get(("config",), 1)
        problems.append(
            Problem(located.file, config_line, "config", "a Pulumi stack file needs a 'config:' mapping")
        )
        return None, problems
    sections: dict[str, Any] = {}
    for key, value in data["config"].items():
        namespace, _, name = str(key).partition(":")
        line = located.lines.get(("config", key))
        if namespace != project:
            continue  # provider settings such as kubernetes:context belong to their providers
        if name in SECTIONS:
            sections[name] = value
        elif name == CREDENTIAL_ROTATIONS_KEY:
            try:
                parse_rotations(value)
            except ValueError as exc:
                problems.append(Problem(located.file, line, format_path((str(key),)), str(exc)))
        elif name in (LAYER_KEY, LAYER_STACKS_KEY):
            try:
                (parse_layer if name == LAYER_KEY else parse_layer_stacks)(value)
            except ValueError as exc:
                problems.append(Problem(located.file, line, format_path((str(key),)), str(exc)))
        elif name == CREDENTIAL_SEED_KEY and not _is_secure(value):
            env = Path(located.file).name.removeprefix("Pulumi.").rsplit(".", 1)[0]
            fix = SEED_FIX.format(environment=env)
            message = f"the credential seed must be a secret value (secure:); {fix}"
            problems.append(Problem(located.file, line, format_path((str(key),)), message))
        elif not _is_secure(value):
            known = (*SECTIONS, CREDENTIAL_ROTATIONS_KEY, LAYER_KEY, LAYER_STACKS_KEY)
            allowed = ", ".join(f"{project}:{s}" for s in known)
            problems.append(
                Problem(
                    located.file,
                    line,
                    format_path((str(key),)),
                    f"unknown key (allowed: {allowed}, or a secret value)",
                )
            )
    relocated = _relocate_sections(located, project)
    located.lines, located.duplicates = relocated.lines, relocated.duplicates
    return sections, problems


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _relocate_sections(located: LocatedYaml, project: str) -> LocatedYaml:
    """Re-key line numbers from ``('config', '<project>:serving', ...)`` to ``('serving', ...)``."""
    # A section missing from the file is reported at the ``config:`` key that should hold it.
    lines: dict[PathKey, int] = {(): located.lines.get(("config",), 1)}
    for path, line in located.lines.items():
        if len(path) >= 2 and path[0] == "config" and str(path[1]).startswith(f"{project}:"):
            lines[(str(path[1]).split(":", 1)[1], *path[2:])] = line
    return LocatedYaml(located.file, located.data, lines, located.duplicates)


# Keyed by the working directory: the file name shown in messages is relative to it.
_defaults_cache: dict[Path, LocatedYaml] = {}


def _read_defaults() -> LocatedYaml:
    cwd = Path.cwd()
    if cwd not in _defaults_cache:
        _defaults_cache[cwd] = read_located_yaml(DEFAULTS_FILE)
    return _defaults_cache[cwd]


def _deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else in ``override`` replaces ``base``."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return override


def _with_defaults(sections: dict[str, Any], defaults: dict[str, Any], tier: Any) -> dict[str, Any]:
    layers = [defaults.get("common", {})]
    if isinstance(tier, str) and tier in defaults:
        layers.append(defaults[tier])
    base: dict[str, Any] = {}
    model_defaults: dict[str, Any] = {}
    for layer in layers:
        layer = copy.deepcopy(layer)
        model_defaults = _deep_merge(model_defaults, layer.pop(MODEL_DEFAULTS_KEY, {}))
        base = _deep_merge(base, layer)
    merged = _deep_merge(base, sections)
    serving = merged.get("serving")
    if isinstance(serving, dict) and isinstance(serving.get("models"), list):
        serving["models"] = [
            _deep_merge(model_defaults, m) if isinstance(m, dict) else m for m in serving["models"]
        ]
    return merged


def _problems_from(
    exc: ValidationError, located: LocatedYaml, defaults: LocatedYaml, tier: Any
) -> list[Problem]:
    problems = list(located.duplicates)
    for error in exc.errors(include_url=False):
        path: PathKey = tuple(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            path = (*path, *cause.path)
        message = _message(error, cause)
        file, line = located.file, located.lines.get(path)
        if line is None:
            default_line = _default_line(path, defaults, tier)
            if default_line is not None:
                file, line = defaults.file, default_line
                message += " (tier default)"
            else:
                line = located.line_of(path)
        problems.append(Problem(file, line, format_path(path), message))
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.path))


def _default_line(path: PathKey, defaults: LocatedYaml, tier: Any) -> int | None:
    """Line in defaults.yaml that supplied ``path``, if a default did."""
    if not isinstance(tier, str):  # an unhashable tier (a list...) cannot name a defaults layer
        tier = "common"
    if len(path) >= 3 and path[:2] == ("serving", "models"):
        candidates = [(layer, MODEL_DEFAULTS_KEY, *path[3:]) for layer in (tier, "common")]
    else:
        candidates = [(layer, *path) for layer in (tier, "common")]
    for candidate in candidates:
        if (line := defaults.lines.get(candidate)) is not None:
            return line
    return None


def _message(error: Any, cause: Any) -> str:
    kind = error["type"]
    if kind == "cross_field":
        return str(error["msg"])
    if isinstance(cause, FieldError) or kind == "value_error":
        return str(cause) if cause is not None else error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(error["loc"][:-1]))
        hint = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        return (
            f"unknown key (did you mean {hint[0]!r}?)"
            if hint
            else f"unknown key (allowed: {', '.join(allowed)})"
        )
    if kind == "missing":
        return "required key missing"
    if kind == "string_pattern_mismatch":
        pattern = error["ctx"]["pattern"]
        text = _FRIENDLY_PATTERNS.get(pattern, f"must match {pattern}")
        return f"{text} (got {error['input']!r})"
    message = error["msg"]
    if not isinstance(error.get("input"), dict | list):
        message += f" (got {error['input']!r})"
    return re.sub(r"^Value error, ", "", message)


def _allowed_keys(path: PathKey) -> list[str]:
    """Field names of the model found at ``path`` in the schema (empty when it is not a model)."""
    model: Any = EnvironmentSpec
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _model_in(model.model_fields[part].annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside ``X``, ``X | None``, ``list[X]`` or ``Annotated[...]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            if (found := _model_in(arg)) is not None:
                return found
    return None
