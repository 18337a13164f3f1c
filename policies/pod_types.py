"""Derive the pod-bearing types from the pinned pulumi-kubernetes SDK; write ``rules/_pod_types.py``.

``python -m mlops_platform.policies.pod_types`` regenerates the table (``--check`` fails when it is
stale). The SDK is imported inside :func:`derive` only: the packs read the generated literal and never
import the provider SDK (importing it costs seconds and ties a pack to a provider version).

How: the SDK registers every resource class under its type token (``_utilities.register`` in
``pulumi_kubernetes/__init__.py``); each class's input type (``<Kind>InitArgs``, else ``<Kind>Args``)
is walked through the forward references of its ``__init__`` annotations down to ``core/v1``
``PodSpecArgs``. The wire names come from the ``@pulumi.getter(name=...)`` of each property.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_platform.policies.rules import _pod_types

TABLE = Path(_pod_types.__file__)
_REF = re.compile(r"ForwardRef\('([\w.]+?Args)'\)")
_POD_SPECS = ("PodSpecArgs", "PodSpecPatchArgs")
_HEADER_END = "POD_TEMPLATE_PATHS: Final[dict[str, tuple[str, ...]]] = {\n"


def _wire_name(cls: type, attribute: str) -> str:
    getter = getattr(getattr(cls, attribute, None), "fget", None)
    return getattr(getter, "_pulumi_name", None) or attribute


def _paths(cls: type, seen: frozenset[type]) -> Iterator[tuple[str, ...]]:
    """Wire-name paths from ``cls`` to a PodSpec; a list step ends in ``[]``."""
    if cls.__name__ in _POD_SPECS and cls.__module__.endswith("core.v1._inputs"):
        yield ()
        return
    if cls in seen:
        return
    namespace = sys.modules[cls.__module__].__dict__
    for name, parameter in inspect.signature(cls.__init__).parameters.items():  # type: ignore[misc]
        annotation = str(parameter.annotation)
        for ref in _REF.findall(annotation):
            try:
                sub = eval(ref, namespace)  # a dotted name the module itself imported, never input
            except (NameError, AttributeError):
                continue
            step = _wire_name(cls, name) + ("[]" if "Sequence[" in annotation.split(ref)[0] else "")
            for rest in _paths(sub, seen | {cls}):
                yield (step, *rest)


def _registered() -> list[dict[str, Any]]:
    import pulumi_kubernetes

    source = inspect.getsource(pulumi_kubernetes)
    match = re.search(r'_utilities\.register\(\s*resource_modules="""(.*?)"""', source, re.S)
    if match is None:
        raise RuntimeError("pulumi_kubernetes no longer registers its resource modules as expected")
    return json.loads(match.group(1))


def derive() -> dict[str, tuple[str, ...]]:
    """Every type token of the installed SDK whose inputs reach a PodSpec, with the path to it.

    Includes the ``*List`` and ``*Patch`` types: the caller decides what to leave out.
    """
    out: dict[str, tuple[str, ...]] = {}
    for module_info in _registered():
        module = importlib.import_module(module_info["fqn"])
        for token, class_name in module_info["classes"].items():
            resource_module = sys.modules[getattr(module, class_name).__module__]
            args = getattr(resource_module, f"{class_name}InitArgs", None) or getattr(
                resource_module, f"{class_name}Args", None
            )
            if args is None:
                continue
            paths = sorted(set(_paths(args, frozenset())))
            if len(paths) > 1:
                raise RuntimeError(f"{token} holds more than one pod spec: {paths}")
            if paths:
                out[token] = paths[0]
    return dict(sorted(out.items()))


def template_paths(derived: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The table's entries: excluded suffixes left out, each path cut before its final ``spec``."""
    return {
        token: path[:-1]
        for token, path in derived.items()
        if not token.endswith(_pod_types.EXCLUDED_SUFFIXES)
    }


def _tuple(path: tuple[str, ...]) -> str:
    """A tuple literal as ``ruff format`` writes it."""
    items = ", ".join(json.dumps(step) for step in path)
    return f"({items},)" if len(path) == 1 else f"({items})"


def render(paths: dict[str, tuple[str, ...]], sdk_version: str) -> str:
    header = TABLE.read_text().split(_HEADER_END, 1)[0] + _HEADER_END
    header = re.sub(r'SDK_VERSION: Final = "[^"]*"', f'SDK_VERSION: Final = "{sdk_version}"', header)
    body = "".join(f'    "{token}": {_tuple(path)},\n' for token, path in paths.items())
    return header + body + "}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the table is stale")
    args = parser.parse_args(argv)
    from importlib import metadata

    text = render(template_paths(derive()), metadata.version("pulumi_kubernetes"))
    if TABLE.read_text() == text:
        return 0
    if args.check:
        print(f"stale: {TABLE}", file=sys.stderr)
        return 1
    TABLE.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
