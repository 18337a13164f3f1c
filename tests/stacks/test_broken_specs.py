"""A table of broken environment specs, each failing with its exact located messages.

Every case is the minimal valid stack file (``minimal_stack.yaml``, tier staging) with one edit,
written to ``tmp_path``. Expected lines use ``{file}`` for the case's file as the loader shows it
and ``{defaults}`` for ``stacks/defaults.yaml``. Problems found while reading YAML (duplicate keys,
unbuildable values) name the key path as written in the file (``config.mlops-platform:...``).
Each case runs twice: through ``load_environment`` and through ``mlops validate`` in a subprocess
(exit status 2, messages on stderr, no traceback).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.yaml_source import SourceError, display_path
from tests.stacks.stack_fixtures import DEFAULTS_SHOWN, MINIMAL_STACK, REPO, STACKS, mutate, run_cli

DEFAULTS_TEXT = (STACKS / "defaults.yaml").read_text(encoding="utf-8")
MODEL_LINE = "        model: {name: scorer, version: 3}\n"  # anchor to add keys to the one model


def defaults_line(text: str, after: str) -> int:
    """1-based line of the first ``text`` in defaults.yaml below the first ``after``."""
    start = DEFAULTS_TEXT.index(after)
    return DEFAULTS_TEXT.count("\n", 0, DEFAULTS_TEXT.index(text, start)) + 1


def with_model_keys(yaml_lines: str) -> str:
    """The minimal stack with ``yaml_lines`` (indented for a model entry) added after ``model:``."""
    return mutate(MODEL_LINE, MODEL_LINE + yaml_lines)


def edits(*pairs: tuple[str, str]) -> str:
    text = MINIMAL_STACK
    for old, new in pairs:
        text = mutate(old, new, text)
    return text


@dataclass(frozen=True)
class Case:
    id: str
    text: str | None
    """Content of the case's file; None writes no file (the file is missing)."""
    expected: tuple[str, ...]
    arg: str | None = None
    """What to pass instead of the file's path (an environment name)."""


ENV_ALLOWED = (
    "name, tier, target, namespace, owner, team, cost_centre, data_classification_ceiling, await_readiness, "
    "registry_source, images"
)
SECTIONS_ALLOWED = (
    "mlops-platform:environment, mlops-platform:storage, mlops-platform:registry, "
    "mlops-platform:serving, mlops-platform:monitoring, mlops-platform:credentialRotations, "
    "mlops-platform:layer, mlops-platform:layerStacks, or a secret value"
)
DNS = "must be a DNS label: lowercase letters, digits and '-', starting with a letter"
IMAGE = "must be an image reference with a registry: registry/path:tag or @sha256:<digest>"

CASES = [
    # --- YAML syntax, files, environments --------------------------------------------------
    Case(
        "yaml-tab-indentation",
        mutate("    volumes:\n", "    volumes:\n\t- name: tabbed\n"),
        ("{file}:18: YAML syntax error: found character that cannot start any token",),
    ),
    Case(
        "yaml-unclosed-flow-mapping",
        mutate("{name: scorer, version: 3}", "{name: scorer, version: 3"),
        ("{file}:25: YAML syntax error: did not find expected ',' or '}'",),
    ),
    Case(
        "yaml-unclosed-bracket",
        mutate("email: oncall@acme.example", "email: [oncall@acme.example"),
        ("{file}:34: YAML syntax error: did not find expected ',' or ']'",),
    ),
    Case(
        "yaml-control-character",
        mutate("    team: ml-platform\n", "    team: ml-\x07platform\n"),
        ("{file}:9: YAML syntax error: unacceptable character #x0007: control characters are not allowed",),
    ),
    Case(
        "yaml-unquoted-date",  # the Pulumi CLI passes Go's rendering of the date, not its text
        mutate("    cost_centre: cc-1\n", "    cost_centre: 2026-12-31\n"),
        (
            "{file}:10: environment.cost_centre: must be a valid label value: letters, digits, '-', '_' "
            "or '.' (got '2026-12-31 00:00:00 +0000 UTC')",
        ),
    ),
    Case(
        "yaml-unknown-tag",
        mutate("    team: ml-platform\n", "    team: !vault ml-platform\n"),
        (
            "{file}:9: config.mlops-platform:environment.team: invalid value 'ml-platform': "
            "could not determine a constructor for the tag '!vault'",
        ),
    ),
    Case(
        "yaml-recursive-alias",
        mutate("    volumes:\n", "    volumes: &loop\n      - *loop\n"),
        ("{file}:17: config.mlops-platform:storage.volumes[0]: recursive YAML alias",),
    ),
    Case(
        "duplicate-key",
        mutate("    team: ml-platform\n", "    team: ml-platform\n    team: data-platform\n"),
        ("{file}:10: config.mlops-platform:environment.team: duplicate key",),
    ),
    Case(
        "duplicate-section",
        mutate(
            "  mlops-platform:monitoring:\n", "  mlops-platform:serving: {}\n  mlops-platform:monitoring:\n"
        ),
        ("{file}:29: config.mlops-platform:serving: duplicate key",),
    ),
    Case("missing-file", None, ("{file}: file not found",)),
    Case("unknown-environment", None, ("qa: unknown environment (known: dev, prod, staging)",), arg="qa"),
    Case(
        "missing-config",
        mutate("config:\n", "settings:\n"),
        ("{file}:1: config: a Pulumi stack file needs a 'config:' mapping",),
    ),
    Case("empty-file", "", ("{file}:1: config: a Pulumi stack file needs a 'config:' mapping",)),
    Case(
        "config-not-a-mapping",
        "# nothing configured yet\nconfig: []\n",
        ("{file}:2: config: a Pulumi stack file needs a 'config:' mapping",),
    ),
    Case(
        "unknown-top-level-key",
        mutate(
            "  mlops-platform:monitoring:\n", "  mlops-platform:monitorng: {}\n  mlops-platform:monitoring:\n"
        ),
        (f"{{file}}:29: mlops-platform:monitorng: unknown key (allowed: {SECTIONS_ALLOWED})",),
    ),
    Case(
        "plaintext-credential-seed",
        mutate(
            "  mlops-platform:monitoring:\n",
            "  mlops-platform:credentialSeed: hunter2\n  mlops-platform:monitoring:\n",
        ),
        (
            "{file}:29: mlops-platform:credentialSeed: the credential seed must be a secret value (secure:); "
            "run `mlops secrets test` to generate it",
        ),
    ),
    Case(
        "negative-credential-rotation",
        mutate(
            "  mlops-platform:monitoring:\n",
            "  mlops-platform:credentialRotations: {storage-postgres-password: -1}\n"
            "  mlops-platform:monitoring:\n",
        ),
        (
            "{file}:29: mlops-platform:credentialRotations: credentialRotations.storage-postgres-password: "
            "a generation is a non-negative integer (got -1)",
        ),
    ),
    Case(
        "credential-rotations-not-a-map",
        mutate(
            "  mlops-platform:monitoring:\n",
            "  mlops-platform:credentialRotations: [1]\n  mlops-platform:monitoring:\n",
        ),
        (
            "{file}:29: mlops-platform:credentialRotations: credentialRotations must map credential names "
            "to generations",
        ),
    ),
    Case(
        "missing-section",
        "config:\n  mlops-platform:environment: {name: x, tier: dev}\n",
        (
            "{file}:1: monitoring.receivers: required key missing",
            "{file}:1: serving: required key missing",
            "{file}:2: environment.cost_centre: required key missing",
            "{file}:2: environment.data_classification_ceiling: required key missing",
            "{file}:2: environment.namespace: required key missing",
            "{file}:2: environment.owner: required key missing",
            "{file}:2: environment.target: required key missing",
            "{file}:2: environment.team: required key missing",
        ),
    ),
    # --- unknown keys --------------------------------------------------------------------
    Case(
        "unknown-key-did-you-mean",
        mutate("        size_gib: 5\n", "        size_gb: 5\n"),
        (
            "{file}:18: storage.volumes[0].size_gib: required key missing",
            "{file}:19: storage.volumes[0].size_gb: unknown key (did you mean 'size_gib'?)",
        ),
    ),
    Case(
        "unknown-key-nested-did-you-mean",
        mutate("          risk_tier: minimal\n", "          risk_tire: minimal\n"),
        (
            "{file}:25: serving.models[0].governance.risk_tier: required key missing",
            "{file}:27: serving.models[0].governance.risk_tire: unknown key (did you mean 'risk_tier'?)",
        ),
    ),
    Case(
        "unknown-key-lists-allowed",
        mutate("    team: ml-platform\n", "    team: ml-platform\n    colour: blue\n"),
        (f"{{file}}:10: environment.colour: unknown key (allowed: {ENV_ALLOWED})",),
    ),
    # --- wrong types ---------------------------------------------------------------------
    Case(
        "string-for-int",
        mutate("        size_gib: 5\n", "        size_gib: five\n"),
        (
            "{file}:19: storage.volumes[0].size_gib: Input should be a valid integer, "
            "unable to parse string as an integer (got 'five')",
        ),
    ),
    Case(
        "list-for-mapping",
        mutate("model: {name: scorer, version: 3}", "model: [scorer, 3]"),
        ("{file}:24: serving.models[0].model: Input should be a valid dictionary or instance of ModelRef",),
    ),
    Case(
        "bool-for-string",
        mutate("    team: ml-platform\n", "    team: true\n"),
        ("{file}:9: environment.team: Input should be a valid string (got True)",),
    ),
    Case(
        "unknown-enum-value",
        mutate("    tier: staging\n", "    tier: qa\n"),
        ("{file}:5: environment.tier: Input should be 'dev', 'staging' or 'prod' (got 'qa')",),
    ),
    # --- bad values ----------------------------------------------------------------------
    Case(
        "negative-size",
        mutate("        size_gib: 5\n", "        size_gib: -5\n"),
        ("{file}:19: storage.volumes[0].size_gib: Input should be greater than or equal to 1 (got -5)",),
    ),
    Case(
        "canary-weight-0",
        with_model_keys("        canary: {version: 4, weight: 0}\n"),
        ("{file}:25: serving.models[0].canary.weight: Input should be greater than or equal to 1 (got 0)",),
    ),
    Case(
        "canary-weight-100",
        with_model_keys("        canary: {version: 4, weight: 100}\n"),
        ("{file}:25: serving.models[0].canary.weight: Input should be less than or equal to 99 (got 100)",),
    ),
    Case(
        "error-rate-above-1",
        with_model_keys("        slo: {error_rate: 1.5}\n"),
        ("{file}:25: serving.models[0].slo.error_rate: Input should be less than 1 (got 1.5)",),
    ),
    Case(
        "bad-cron",
        mutate("    receivers:\n", "    drift: {schedule: 'every hour'}\n    receivers:\n"),
        (
            "{file}:30: monitoring.drift.schedule: must be a five-field cron schedule such as "
            "'0 2 * * *' (got 'every hour')",
        ),
    ),
    Case(
        "image-without-registry",
        mutate("ghcr.io/acme/scorer:1.0.0", "scorer:1.0.0"),
        (f"{{file}}:23: serving.models[0].image: {IMAGE} (got 'scorer:1.0.0')",),
    ),
    Case(
        "image-without-tag",
        mutate("ghcr.io/acme/scorer:1.0.0", "ghcr.io/acme/scorer"),
        (
            "{file}:23: serving.models[0].image: must name a tag or a digest "
            "(registry/path:tag or registry/path@sha256:...)",
        ),
    ),
    Case(
        "bad-email",
        mutate("        email: oncall@acme.example", "        email: oncall-at-acme"),
        (
            "{file}:33: monitoring.receivers[0].email: must be an email address such as team@example.com "
            "(got 'oncall-at-acme')",
        ),
    ),
    Case(
        "model-card-not-https",
        mutate(
            "          risk_tier: minimal\n",
            "          risk_tier: minimal\n          model_card_url: http://cards.acme.example/scorer\n",
        ),
        (
            "{file}:28: serving.models[0].governance.model_card_url: must be an https:// URL "
            "(got 'http://cards.acme.example/scorer')",
        ),
    ),
    # --- invalid names -------------------------------------------------------------------
    Case(
        "name-uppercase",
        mutate("      - name: scorer\n", "      - name: Scorer\n"),
        (f"{{file}}:22: serving.models[0].name: {DNS} (got 'Scorer')",),
    ),
    Case(
        "name-underscore",
        mutate("      - name: cache\n", "      - name: feature_cache\n"),
        (f"{{file}}:18: storage.volumes[0].name: {DNS} (got 'feature_cache')",),
    ),
    Case(
        "endpoint-name-too-long",
        mutate("      - name: scorer\n", f"      - name: {'s' * 41}\n"),
        (
            "{file}:22: serving.models[0].name: String should have at most 40 characters "
            f"(got '{'s' * 41}')",
        ),
    ),
    Case(
        "bucket-name-uppercase",
        mutate("        - name: datasets", "        - name: DataSets"),
        (
            "{file}:16: storage.object_store.buckets[1].name: must be a bucket name: "
            "3-63 lowercase letters, digits, '.' or '-' (got 'DataSets')",
        ),
    ),
    # --- cross-field rules ---------------------------------------------------------------
    Case(
        "replicas-min-above-max",
        with_model_keys("        replicas: {min: 5, max: 2}\n"),
        ("{file}:25: serving.models[0].replicas.min: must be <= max (5 > 2)",),
    ),
    Case(
        "requests-above-limits",
        with_model_keys(
            "        resources:\n"
            "          requests: {cpu_millicores: 3000, memory_mib: 512}\n"
            "          limits: {cpu_millicores: 1000, memory_mib: 1024}\n"
        ),
        (
            "{file}:26: serving.models[0].resources.requests.cpu_millicores: "
            "must be <= limits.cpu_millicores (3000 > 1000)",
        ),
    ),
    Case(
        "canary-same-version",
        with_model_keys("        canary: {version: 3, weight: 10}\n"),
        ("{file}:25: serving.models[0].canary.version: must differ from the stable model's (3)",),
    ),
    Case(
        "canary-same-alias",
        mutate(
            MODEL_LINE,
            "        model: {name: scorer, alias: champion}\n        canary: {alias: champion, weight: 10}\n",
        ),
        ("{file}:25: serving.models[0].canary.alias: must differ from the stable model's (champion)",),
    ),
    Case(
        "model-version-and-alias",
        mutate("{name: scorer, version: 3}", "{name: scorer, version: 3, alias: champion}"),
        (
            "{file}:24: serving.models[0].model: "
            "set exactly one of version, alias or uri (got version, alias)",
        ),
    ),
    Case(
        "model-uri-with-name",
        mutate("{name: scorer, version: 3}", "{name: scorer, uri: 's3://datasets/scorer'}"),
        ("{file}:24: serving.models[0].model: name goes with version or alias, not with uri",),
    ),
    Case(
        "duplicate-model-name",
        mutate(
            "  mlops-platform:monitoring:\n",
            "      - name: scorer\n"
            "        image: ghcr.io/acme/scorer:1.1.0\n"
            "        model: {name: scorer, version: 4}\n"
            "        governance:\n"
            "          {owner: owner@acme.example, risk_tier: minimal, data_classification: internal}\n"
            "  mlops-platform:monitoring:\n",
        ),
        ("{file}:29: serving.models[1].name: duplicate name 'scorer'",),
    ),
    Case(
        "duplicate-bucket-name",
        mutate("        - name: datasets", "        - name: mlflow-artifacts"),
        ("{file}:16: storage.object_store.buckets[1].name: duplicate name 'mlflow-artifacts'",),
    ),
    Case(
        "duplicate-receiver-name",
        mutate(
            "        email: oncall@acme.example\n",
            "        email: oncall@acme.example\n      - name: oncall\n        kind: email\n"
            "        email: backup@acme.example\n",
        ),
        ("{file}:34: monitoring.receivers[1].name: duplicate name 'oncall'",),
    ),
    Case(
        "duplicate-volume-name",
        mutate("        size_gib: 5\n", "        size_gib: 5\n      - name: cache\n        size_gib: 6\n"),
        ("{file}:20: storage.volumes[1].name: duplicate name 'cache'",),
    ),
    Case(
        "artifact-bucket-not-a-bucket",
        mutate(
            "  mlops-platform:serving:\n",
            "  mlops-platform:registry:\n"
            "    model_registry: {artifact_bucket: models}\n"
            "  mlops-platform:serving:\n",
        ),
        (
            "{file}:21: registry.model_registry.artifact_bucket: "
            "'models' is not a bucket of storage.object_store (datasets, mlflow-artifacts)",
        ),
    ),
    Case(
        "drift-bucket-not-a-bucket",
        mutate("  mlops-platform:monitoring:\n", "  mlops-platform:monitoring:\n    drift_bucket: samples\n"),
        (
            "{file}:30: monitoring.drift_bucket: "
            "'samples' is not a bucket of storage.object_store (datasets, mlflow-artifacts)",
        ),
    ),
    Case(
        "receiver-kind-mismatch",
        mutate("        kind: email\n", "        kind: slack\n"),
        ("{file}:31: monitoring.receivers[0]: a slack receiver needs url_secret and no email",),
    ),
    # --- several problems at once: all reported, sorted by line ---------------------------
    Case(
        "several-problems",
        edits(
            ("    team: ml-platform\n", "    team: true\n    colour: blue\n"),
            ("        size_gib: 5\n", "        size_gib: -5\n"),
            ("      - name: scorer\n", "      - name: Scorer\n"),
            (MODEL_LINE, MODEL_LINE + "        replicas: {min: 5, max: 2}\n"),
            ("        email: oncall@acme.example", "        email: oncall-at-acme"),
        ),
        (
            "{file}:9: environment.team: Input should be a valid string (got True)",
            f"{{file}}:10: environment.colour: unknown key (allowed: {ENV_ALLOWED})",
            "{file}:20: storage.volumes[0].size_gib: Input should be greater than or equal to 1 (got -5)",
            f"{{file}}:23: serving.models[0].name: {DNS} (got 'Scorer')",
            "{file}:26: serving.models[0].replicas.min: must be <= max (5 > 2)",
            "{file}:35: monitoring.receivers[0].email: must be an email address such as team@example.com "
            "(got 'oncall-at-acme')",
        ),
    ),
    # --- values supplied by stacks/defaults.yaml ------------------------------------------
    # The key is absent from the environment file, so the problem is located at the default
    # that supplied it, marked "(tier default)": the staging tier's replicas.min of 2 ...
    Case(
        "tier-default-replicas-min",
        with_model_keys("        replicas: {max: 1}\n"),
        (
            f"{{defaults}}:{defaults_line('replicas: {min: 2, max: 4}', 'staging:')}: "
            "serving.models[0].replicas.min: must be <= max (2 > 1) (tier default)",
        ),
    ),
    # ... and the common model default's CPU request of 250 millicores.
    Case(
        "tier-default-requests",
        with_model_keys("        resources:\n          limits: {cpu_millicores: 100, memory_mib: 1024}\n"),
        (
            f"{{defaults}}:{defaults_line('requests:', '  model:')}: "
            "serving.models[0].resources.requests.cpu_millicores: "
            "must be <= limits.cpu_millicores (250 > 100) (tier default)",
        ),
    ),
]


def materialise(case: Case, tmp_path: Path) -> tuple[str, list[str]]:
    """Write the case's file; return the argument to validate and the expected lines."""
    path = tmp_path / "Pulumi.test.yaml"
    if case.text is not None:
        path.write_text(case.text, encoding="utf-8")
    shown = display_path(path)
    expected = [line.replace("{file}", shown).replace("{defaults}", DEFAULTS_SHOWN) for line in case.expected]
    return case.arg or str(path), expected


def test_table_is_large_and_unique() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)


def test_the_credential_seed_and_rotations_are_accepted(tmp_path: Path) -> None:
    """What `mlops secrets ENV` writes: the seed encrypted, the rotations a plain map."""
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(
        MINIMAL_STACK
        + "  mlops-platform:credentialSeed:\n    secure: v1:abc:def\n"
        + "  mlops-platform:credentialRotations:\n    storage-postgres-password: 2\n",
        encoding="utf-8",
    )
    assert load_environment(path).environment.tier == "staging"


def test_minimal_stack_is_valid(tmp_path: Path) -> None:
    """The base every case mutates must itself be valid, or every case proves nothing."""
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(MINIMAL_STACK, encoding="utf-8")
    spec = load_environment(path)
    assert [m.name for m in spec.serving.models] == ["scorer"]
    assert spec.environment.tier == "staging"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_broken_spec_is_reported_located(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # file names in messages are relative to the working directory
    arg, expected = materialise(case, tmp_path)
    with pytest.raises(SourceError) as caught:
        load_environment(arg)
    assert [str(problem) for problem in caught.value.problems] == expected
    assert str(caught.value) == "\n".join(expected)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_broken_spec_through_cli(case: Case, tmp_path: Path) -> None:
    arg, expected = materialise(case, tmp_path)
    result = run_cli("validate", arg)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == expected
    assert "Traceback" not in result.stdout + result.stderr
    assert "ok " not in result.stdout


_REGISTRY_IMAGE = "  mlops-platform:registry:\n    model_registry:\n      image: {image}\n"


@pytest.mark.parametrize(
    "image",
    ["ghcr.io/mlflow/mlflow:v2.16.2", "ghcr.io/mlflow/mlflow:v3.6.0@sha256:" + "0" * 64, "dhi.io/mlflow:3"],
)
def test_an_mlflow_image_without_a_postgres_driver_is_refused_where_it_is_written(
    image: str, tmp_path: Path
) -> None:
    # On today's defaults (ghcr.io/mlflow/mlflow:v2.16.2) staging validated, then its registry
    # crash-looped on the cluster: "No module named 'psycopg2'".
    text = mutate(
        "  mlops-platform:serving:\n", f"{_REGISTRY_IMAGE.format(image=image)}  mlops-platform:serving:\n"
    )
    stack = tmp_path / "Pulumi.test.yaml"
    stack.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_environment(str(stack))
    (problem,) = [str(p) for p in caught.value.problems]
    assert "registry.model_registry.image:" in problem and "has no PostgreSQL driver (psycopg2)" in problem
    assert "mlflow/mlflow#9513" in problem and repr(image) in problem
    line = text.splitlines().index(f"      image: {image}") + 1
    assert problem.startswith(f"{stack}:{line}: "), problem


def test_the_full_variant_of_the_official_image_is_accepted(tmp_path: Path) -> None:
    image = "ghcr.io/mlflow/mlflow:v3.6.0-full"
    text = mutate(
        "  mlops-platform:serving:\n", f"{_REGISTRY_IMAGE.format(image=image)}  mlops-platform:serving:\n"
    )
    stack = tmp_path / "Pulumi.test.yaml"
    stack.write_text(text, encoding="utf-8")
    assert load_environment(str(stack)).registry.model_registry.image == image
