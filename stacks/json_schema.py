"""The environment spec as a JSON Schema (draft 2020-12), generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from mlops_platform.stacks.schema import EnvironmentSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://mlops-platform.dev/schemas/environment-spec.json"


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of the *merged* spec: an environment file plus the tier defaults under it."""
    schema = EnvironmentSpec.model_json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        **schema,
        "description": (
            "One environment of mlops-platform, after stacks/defaults.yaml is merged under the "
            "environment file's mlops-platform:<section> config keys."
        ),
    }
