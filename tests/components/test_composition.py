"""``mlops_platform.stacks.composition`` and the root ``__main__.py`` program under Pulumi's mocks.

``__main__.py`` runs end to end with config set the way the Pulumi CLI sets it (every
``mlops-platform:<section>`` a JSON string, secrets listed as secret keys), from the real
``stacks/Pulumi.prod.yaml`` plus the credential seed ``mlops secrets prod`` would add; a broken config
or a missing seed raises ``RunError`` with a message that says what to fix.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from mlops_platform.components.args import CredentialArgs, ModelSource, StorageArgs, Target
from mlops_platform.components.credentials import derive
from mlops_platform.components.storage import StorageStack
from mlops_platform.stacks.composition import model_spec, storage_args
from mlops_platform.stacks.loader import load_environment
from tests.components.conftest import (
    SECRET_MARK,
    SEED_CONFIG_KEY,
    TEST_SEED,
    Recording,
    credential,
    plaintext_leaks,
    run_program,
)

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "__main__.py"
WEBHOOK = "https://hooks.slack.example/services/MAINPLAINTEXT"


def cli_config(stack: str) -> tuple[dict[str, str], list[str]]:
    """The config map ``pulumi up -s <stack>`` hands to the program, secrets decrypted to a known value."""
    data = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    config: dict[str, str] = {SEED_CONFIG_KEY: TEST_SEED}  # as `mlops secrets <stack>` sets it
    secrets: list[str] = [SEED_CONFIG_KEY]
    for key, value in data.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key], secrets = WEBHOOK, [*secrets, key]
        else:
            config[key] = value if isinstance(value, str) else json.dumps(value)
    return config, secrets


def run_main(config: dict[str, str], secrets: list[str], stack: str = "prod") -> Recording:
    def program() -> dict[str, Any]:
        runpy.run_path(str(MAIN), run_name="__main__")
        root = pulumi.runtime.get_root_resource()
        assert root is not None
        return dict(root.outputs)  # type: ignore[attr-defined]

    return run_program(program, stack=stack, config=config, secret_keys=secrets)


@pytest.fixture(scope="module")
def prod_main() -> Recording:
    return run_main(*cli_config("prod"))


def test_main_builds_prod_from_its_stack_config(prod_main: Recording) -> None:
    types = {r.type for r in prod_main.resources}
    assert {
        "mlops:storage:StorageStack",
        "mlops:registry:RegistryStack",
        "mlops:serving:ServingStack",
        "mlops:monitoring:MonitoringStack",
    } <= types
    # Includes the MLflow PDB (2 registry replicas in prod) and the Pushgateway's Deployment, Service,
    # NetworkPolicy and ServiceMonitor, and the drift jobs' credentials Secret.
    assert len(prod_main.resources) == 83
    exports = {k: prod_main.resolve(v) for k, v in prod_main.result.items()}
    assert exports["namespace"] == "mlops-prod"
    assert sorted(exports["modelEndpoints"]) == ["churn-predictor", "fraud-scorer", "recommender"]
    assert exports["modelRegistryUri"] == "http://registry-mlflow.mlops-prod.svc.cluster.local:5000"


def test_main_exports_no_secret(prod_main: Recording) -> None:
    for key, value in prod_main.result.items():
        assert not prod_main.is_secret(value), key
        text = json.dumps(prod_main.resolve(value))
        assert SECRET_MARK not in text and WEBHOOK not in text, key
        assert not any(c in text for c in prod_main.credentials.values()), key


def test_main_derives_the_credentials_from_the_stack_seed(prod_main: Recording) -> None:
    assert prod_main.credentials["storage-postgres-password"] == credential("storage-postgres-password")
    assert not {r.type for r in prod_main.resources if r.type.startswith("random:")}


def test_main_reads_the_receiver_webhook_as_a_secret(prod_main: Recording) -> None:
    config = prod_main.named("monitoring-alertmanager-config")
    assert WEBHOOK in config.plain["stringData"]["alertmanager.yaml"]
    for resource in prod_main.resources:
        assert plaintext_leaks(resource.inputs, WEBHOOK) == [], resource.urn


def test_main_reports_a_broken_config_at_its_file_and_line() -> None:
    config, secrets = cli_config("prod")
    serving = json.loads(config["mlops-platform:serving"])
    serving["models"][0]["replicas"] = {"min": 5, "max": 2}  # fraud-scorer states its replicas
    config["mlops-platform:serving"] = json.dumps(serving)
    with pytest.raises(pulumi.RunError) as caught:
        run_main(config, secrets)
    message = str(caught.value)
    assert "invalid stack configuration" in message
    assert "stacks/Pulumi.prod.yaml:28: " in message
    assert "serving.models[0].replicas.min: must be <= max (5 > 2)" in message


def test_main_without_a_credential_seed_names_the_key_and_the_fix() -> None:
    config, secrets = cli_config("prod")
    del config[SEED_CONFIG_KEY]
    with pytest.raises(pulumi.RunError) as caught:
        run_main(config, [k for k in secrets if k != SEED_CONFIG_KEY])
    assert str(caught.value) == (
        "stack 'prod' has no secret mlops-platform:credentialSeed, the seed every generated credential "
        "is derived from; run `mlops secrets prod` to generate it"
    )


@pytest.mark.parametrize(
    ("rotations", "message"),
    [
        ('{"storage-postgres-password": -1}', "credentialRotations.storage-postgres-password: a generation"),
        ("[1]", "credentialRotations must map credential names to generations"),
        ("{nope", "is not a valid 'JSON object'"),
    ],
)
def test_main_rejects_malformed_rotations(rotations: str, message: str) -> None:
    config, secrets = cli_config("prod")
    config["mlops-platform:credentialRotations"] = rotations
    with pytest.raises(pulumi.RunError, match=message):
        run_main(config, secrets)


# --- the mapping itself --------------------------------------------------------------------------


def test_model_references_map_to_the_contract_uris() -> None:
    spec = load_environment("prod")
    by_name = {m.name: model_spec(spec, m) for m in spec.serving.models}
    fraud, churn = by_name["fraud-scorer"], by_name["churn-predictor"]
    assert (fraud.model_uri, fraud.model_source, fraud.version_label) == (
        "models:/fraud-scorer/champion",
        ModelSource.REGISTRY_ALIAS,
        "champion",
    )
    assert fraud.canary is not None
    assert (fraud.canary.model_uri, fraud.canary.weight_percent) == ("models:/fraud-scorer/challenger", 10)
    assert (churn.model_uri, churn.model_source) == (
        "models:/churn-predictor/12",
        ModelSource.REGISTRY_VERSION,
    )
    assert churn.drift is not None and churn.drift.schedule == spec.monitoring.drift.schedule


def test_only_prod_protects_stateful_resources() -> None:
    credentials = CredentialArgs(seed=TEST_SEED)
    assert storage_args(load_environment("prod"), credentials).protect_stateful is True
    assert storage_args(load_environment("staging"), credentials).protect_stateful is False


def test_a_layer_is_usable_on_its_own() -> None:
    """A platform team can instantiate one component from its typed args, outside ``build_platform``."""
    base = storage_args(load_environment("staging"), CredentialArgs(seed=TEST_SEED))
    args = StorageArgs(
        target=Target.KUBERNETES,
        ownership=base.ownership,
        namespace="team-a",
        credentials=CredentialArgs(seed="team-a-seed", rotations={"team-a-storage-postgres-password": 2}),
        data_classification_ceiling="internal",
        object_store=base.object_store,
        database=base.database,
    )
    rec = run_program(lambda: StorageStack("team-a-storage", args), stack="team-a")
    (component,) = rec.of_type("mlops:storage:StorageStack")
    children = rec.children_of(component.urn)
    assert children and all(c.name.startswith("team-a-storage-") for c in children)
    assert rec.resolve(rec.result.namespace) == "team-a"
    assert rec.is_secret(rec.result.database_url)
    password = rec.resolve(rec.result.outputs.database_password)
    assert password == derive("team-a-seed", "team-a-storage-postgres-password", generation=2)
