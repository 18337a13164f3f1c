"""The strict CRD validation of ``crd_schemas`` rejects what an API server would prune or refuse."""

from __future__ import annotations

import jsonschema
import pytest

from tests.realengine.conftest import require_tool
from tests.realengine.crd_schemas import load_crds, validate_custom_resource


@pytest.fixture(scope="module")
def schemas():  # type: ignore[no-untyped-def]
    from mlops_platform.tools.toolchain import crd_files

    try:
        files = [f for group in crd_files().values() for f in group]
    except Exception:
        require_tool("the CRD files (toolchain component crds)")
        raise
    return load_crds(files)


def _monitor(endpoint: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "m"},
        "spec": {"selector": {"matchLabels": {"app": "a"}}, "endpoints": [endpoint]},
    }


def test_a_valid_service_monitor_passes(schemas) -> None:  # type: ignore[no-untyped-def]
    validate_custom_resource(_monitor({"port": "http", "interval": "30s"}), schemas)


def test_a_misspelt_field_is_refused_not_pruned(schemas) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(jsonschema.ValidationError, match="'intervl' was unexpected"):
        validate_custom_resource(_monitor({"port": "http", "intervl": "30s"}), schemas)


def test_a_wrong_type_is_refused(schemas) -> None:  # type: ignore[no-untyped-def]
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {"rules": [{"backendRefs": [{"name": "svc", "port": "eighty", "weight": 10}]}]},
    }
    with pytest.raises(jsonschema.ValidationError, match="'eighty' is not of type 'integer'"):
        validate_custom_resource(route, schemas)
