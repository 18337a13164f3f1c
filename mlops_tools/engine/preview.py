"""Render a capture for people (``table``, ``tree``) and machines (``json``), secrets redacted.

Resources are placed in a layer by their nearest ``mlops:<layer>:<Type>`` ancestor component and in
a component by their nearest component ancestor; what no platform component owns is ``(stack)``
(program-level resources) or ``(providers)``.
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mlops_platform.tools.engine.capture import PROVIDER_PREFIX, ROOT_STACK_TYPE, Capture
from mlops_platform.tools.findings import CapturedResource

LAYER_ORDER = ("storage", "registry", "serving", "monitoring")
STACK_GROUP = "(stack)"
PROVIDER_GROUP = "(providers)"


class PreviewFormat(StrEnum):
    TABLE = "table"
    TREE = "tree"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Placement:
    layer: str
    component: str  # "<type> <name>" of the nearest component ancestor, or the group name


def short_type(type_: str) -> str:
    """``kubernetes:apps/v1:Deployment`` -> ``Deployment``, ``pulumi:providers:x`` -> ``provider:x``."""
    if type_.startswith(PROVIDER_PREFIX):
        return f"provider:{type_.removeprefix(PROVIDER_PREFIX)}"
    return type_.rsplit(":", 1)[-1]


def placements(resources: list[CapturedResource]) -> dict[str, Placement]:
    """Layer and component of every resource, from its ancestry."""
    by_urn = {r.urn: r for r in resources}
    out: dict[str, Placement] = {}
    for r in resources:
        if r.type.startswith(PROVIDER_PREFIX):
            out[r.urn] = Placement(PROVIDER_GROUP, PROVIDER_GROUP)
            continue
        layer, component = STACK_GROUP, STACK_GROUP
        node: CapturedResource | None = r if not r.custom else by_urn.get(r.parent or "")
        while node is not None and node.type != ROOT_STACK_TYPE:
            if not node.custom and component == STACK_GROUP:
                component = f"{short_type(node.type)} {node.name}"
            parts = node.type.split(":")
            if len(parts) == 3 and parts[0] == "mlops":
                layer = parts[1]
                break
            node = by_urn.get(node.parent or "")
        out[r.urn] = Placement(layer, component)
    return out


def _layer_key(layer: str) -> tuple[int, str]:
    if layer in LAYER_ORDER:
        return (LAYER_ORDER.index(layer), layer)
    return (len(LAYER_ORDER) + (layer == PROVIDER_GROUP), layer)


def _countable(r: CapturedResource) -> bool:
    """Every registered resource counts, the root stack too: as the audit counts and Pulumi's preview
    ("+ N to create") does, so ``mlops preview`` and ``mlops audit`` give one resource count."""
    return True


def summary(capture: Capture) -> dict[str, Any]:
    """Counts by layer, component and type (custom resources and components both counted)."""
    where = placements(capture.resources)
    by_layer: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    for r in capture.resources:
        if _countable(r):
            by_layer[where[r.urn].layer] += 1
            by_type[r.type] += 1
    return {
        "resources": sum(by_layer.values()),
        "by_layer": dict(sorted(by_layer.items(), key=lambda kv: _layer_key(kv[0]))),
        "by_type": dict(sorted(by_type.items())),
    }


def table(capture: Capture) -> Table:
    """Resources grouped by layer and component, with counts per type."""
    where = placements(capture.resources)
    groups: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for r in capture.resources:
        if _countable(r) and r.urn in where:
            p = where[r.urn]
            groups[p.layer][p.component][short_type(r.type)] += 1
    total = sum(sum(c.values()) for comps in groups.values() for c in comps.values())
    out = Table(title=f"mlops preview: {capture.environment} ({total} resources)", show_lines=False)
    out.add_column("Layer", style="bold")
    out.add_column("Component")
    out.add_column("Resources", justify="right")
    out.add_column("Types")
    for layer in sorted(groups, key=_layer_key):
        comps = groups[layer]
        layer_total = sum(sum(c.values()) for c in comps.values())
        first = True
        for component in sorted(comps):
            counts = comps[component]
            types = ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in sorted(counts.items()))
            out.add_row(layer if first else "", component, str(sum(counts.values())), types)
            first = False
        out.add_row("", Text(f"{layer} total", style="italic"), Text(str(layer_total), style="bold"), "")
        out.add_section()
    out.add_row(Text("all layers", style="bold"), "", Text(str(total), style="bold"), "")
    return out


def tree(capture: Capture) -> Tree:
    """The parent/child tree from the root stack; providers listed under their own branch."""
    children: dict[str, list[CapturedResource]] = defaultdict(list)
    roots: list[CapturedResource] = []
    urns = {r.urn for r in capture.resources}
    for r in capture.resources:
        if r.parent and r.parent in urns:
            children[r.parent].append(r)
        else:
            roots.append(r)

    def label(r: CapturedResource) -> Text:
        text = Text(r.name, style="bold" if not r.custom else "")
        text.append(f"  {r.type}", style="dim")
        flags = [f for f, on in (("protect", r.protect), ("retain", r.retain_on_delete)) if on]
        if flags:
            text.append(f"  [{', '.join(flags)}]", style="yellow")
        return text

    def add(node: Tree, r: CapturedResource) -> None:
        branch = node.add(label(r))
        for child in sorted(children[r.urn], key=lambda c: c.urn):
            add(branch, child)

    top = Tree(Text(f"{capture.project} / {capture.environment}", style="bold"))
    for r in sorted(roots, key=lambda r: (r.type.startswith(PROVIDER_PREFIX), r.urn)):
        add(top, r)
    return top


def as_json(capture: Capture) -> str:
    """A stable JSON document: resources in capture order, keys sorted, secrets as markers."""
    where = placements(capture.resources)
    resources = []
    for r in capture.resources:
        p = where[r.urn]
        resources.append(
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "custom": r.custom,
                "layer": p.layer,
                "component": p.component,
                "parent": r.parent,
                "provider": r.provider,
                "inputs": r.inputs,
                "dependencies": sorted(r.dependencies),
                "property_dependencies": {k: sorted(v) for k, v in r.property_dependencies.items()},
                "options": {
                    "protect": r.protect,
                    "retain_on_delete": r.retain_on_delete,
                    "delete_before_replace": r.delete_before_replace,
                    "ignore_changes": list(r.ignore_changes),
                    "aliases": list(r.aliases),
                    "custom_timeouts": r.custom_timeouts,
                    "additional_secret_outputs": list(r.additional_secret_outputs),
                },
            }
        )
    doc = {
        "environment": capture.environment,
        "project": capture.project,
        "summary": summary(capture),
        "resources": resources,
        "outputs": capture.outputs,
    }
    return capture.redact(json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False))


def renderable(capture: Capture, fmt: PreviewFormat | str) -> RenderableType:
    """What ``mlops preview`` prints for ``fmt`` (a rich renderable; JSON as plain text)."""
    match PreviewFormat(fmt):
        case PreviewFormat.TABLE:
            return table(capture)
        case PreviewFormat.TREE:
            return tree(capture)
        case PreviewFormat.JSON:
            return Text(as_json(capture))


def render_preview(capture: Capture, fmt: PreviewFormat | str, *, width: int = 120) -> str:
    """``fmt`` rendered to a string (no colour codes), secrets redacted."""
    if PreviewFormat(fmt) is PreviewFormat.JSON:
        return as_json(capture) + "\n"
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False)
    console.print(renderable(capture, fmt))
    return capture.redact(buffer.getvalue())
