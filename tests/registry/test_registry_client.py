"""The REST client and resolution against a real MLflow server: answers, and every failure in one line."""

from __future__ import annotations

import pytest

from mlops_platform.stacks.loader import load_environment
from mlops_platform.tools.registry.client import Credentials, ErrorKind, MlflowRestClient, RegistryError
from mlops_platform.tools.registry.lookup import LiveLookup
from mlops_platform.tools.registry.resolve import resolve_endpoints
from tests.registry.conftest import Registry, free_port
from tests.registry.envs import approved, registry_env


def test_alias_resolves_to_its_version_with_metadata(registry: Registry) -> None:
    registry.version("fraud-scorer", tags=approved("MRM-2026-014"), metrics={"auc": 0.91})
    second = registry.version(
        "fraud-scorer", tags=approved("MRM-2026-014"), metrics={"auc": 0.95}, aliases=["champion"]
    )
    record = LiveLookup(MlflowRestClient(registry.uri)).by_alias("fraud-scorer", "champion")
    assert (record.model, record.version, record.aliases) == ("fraud-scorer", second, ("champion",))
    assert record.tags == approved("MRM-2026-014")
    assert record.metrics == {"auc": 0.95}
    assert record.source.startswith("s3://models/fraud-scorer/") and record.run_id in record.source
    assert record.created.endswith("Z") and record.created[:2] == "20"
    versions = LiveLookup(MlflowRestClient(registry.uri)).all_versions("fraud-scorer")
    assert [v.version for v in versions] == [second, second - 1]


def _error(call) -> RegistryError:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistryError) as info:
        call()
    return info.value


def test_missing_model_alias_and_version_are_located(registry: Registry) -> None:
    registry.version("fraud-scorer", aliases=["champion"])
    client = MlflowRestClient(registry.uri)
    alias = _error(lambda: client.version_by_alias("fraud-scorer", "challenger"))
    assert (alias.kind, str(alias)) == (
        ErrorKind.NOT_FOUND,
        f'MLflow registry {registry.uri}: alias "challenger" of model "fraud-scorer" does not exist',
    )
    model = _error(lambda: client.version_by_alias("no-such-model", "champion"))
    assert (
        str(model)
        == f'MLflow registry {registry.uri}: alias "champion" of model "no-such-model" does not exist'
    )
    version = _error(lambda: client.version("fraud-scorer", 9))
    assert str(version) == f'MLflow registry {registry.uri}: version 9 of model "fraud-scorer" does not exist'


def test_server_down_is_one_line() -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    error = _error(lambda: MlflowRestClient(uri).version("fraud-scorer", 1))
    assert error.kind is ErrorKind.UNREACHABLE
    assert str(error) == f"MLflow registry {uri} is unreachable: [Errno 111] Connection refused"


def test_slow_server_times_out(silent_server: str) -> None:
    error = _error(lambda: MlflowRestClient(silent_server, timeout_s=0.5).version_by_alias("m", "champion"))
    assert (error.kind, str(error)) == (
        ErrorKind.TIMEOUT,
        f'MLflow registry {silent_server}: no answer within 0.5 s for alias "champion" of model "m"',
    )


def test_wrong_credentials_are_refused_and_right_ones_resolve(auth_server: str) -> None:
    slow = 60  # the auth app hashes every password (PBKDF2); on a loaded CI machine that takes seconds
    wrong = MlflowRestClient(
        auth_server, credentials=Credentials(username="admin", password="wrong"), timeout_s=slow
    )
    error = _error(lambda: wrong.versions("fraud-scorer"))
    assert (error.kind, str(error)) == (
        ErrorKind.UNAUTHORIZED,
        f"MLflow registry {auth_server}: credentials refused (HTTP 401) for versions of model "
        '"fraud-scorer"; check the registry_source token_secret / username and password_secret',
    )
    anonymous = _error(lambda: MlflowRestClient(auth_server, timeout_s=slow).versions("fraud-scorer"))
    assert anonymous.kind is ErrorKind.UNAUTHORIZED
    right = MlflowRestClient(
        auth_server,
        credentials=Credentials(username="admin", password="correct-horse-battery"),
        timeout_s=slow,
    )
    assert right.versions("fraud-scorer") == []
    assert repr(Credentials(username="admin", password="x")) == "Credentials(basic)"


def test_version_deleted_between_preview_and_up(registry: Registry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = registry_env(tmp_path, "prod", registry.uri)
    spec = load_environment(path)
    champion = registry.version("fraud-scorer", tags=approved("MRM-2026-014"), aliases=["champion"])
    lookup = LiveLookup(MlflowRestClient(registry.uri))
    preview = resolve_endpoints(spec, lookup)["fraud-scorer"]["stable"]
    assert preview.version == champion and preview.error is None
    registry.delete_version("fraud-scorer", champion)  # MLflow drops the alias with its version
    up = resolve_endpoints(spec, lookup)["fraud-scorer"]["stable"]
    assert (up.version, up.error) == (
        None,
        f'MLflow registry {registry.uri}: alias "champion" of model "fraud-scorer" does not exist',
    )
