"""Validate custom resources against the CRD schemas their operators publish, strictly.

The CRD files come from registry packages (the prometheus-operator and gateway-api Go modules, through
the toolchain's ``crds`` component); nothing here writes a schema. An API server prunes fields a
structural schema does not declare, silently: a misspelt field would vanish, so validation here is
strict in the same sense as ``kubernetes-validate --strict``: every object without
``x-kubernetes-preserve-unknown-fields`` refuses properties its schema does not name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mlops_platform.tools.cluster_prereqs import YamlLoader


def load_crds(files: Iterable[Path]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``(group, version, kind) -> openAPIV3Schema`` of every served version in ``files``."""
    schemas: dict[tuple[str, str, str], dict[str, Any]] = {}
    for file in files:
        for doc in yaml.load_all(file.read_text(encoding="utf-8"), Loader=YamlLoader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    key = (spec["group"], version["name"], spec["names"]["kind"])
                    schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def strict(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` wherever the API server would prune."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if k not in {"properties"}}
    if "properties" in schema:
        out["properties"] = {name: strict(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


def validate_custom_resource(
    doc: dict[str, Any], schemas: dict[tuple[str, str, str], dict[str, Any]]
) -> None:
    """Raise ``jsonschema.ValidationError`` (or ``KeyError`` for an unknown kind) for a bad object."""
    group, _, version = doc["apiVersion"].rpartition("/")
    schema = dict(strict(schemas[(group, version, doc["kind"])]))
    # apiVersion, kind and metadata are the API server's to check (ObjectMeta), as for any kind.
    properties = {**schema.get("properties", {})}
    for key in ("apiVersion", "kind", "metadata"):
        properties[key] = {}
    schema["properties"] = properties
    jsonschema.Draft4Validator(schema).validate(doc)
