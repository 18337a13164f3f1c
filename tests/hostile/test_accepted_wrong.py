"""Inputs that used to pass validation and fail later (or never): refused, located, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.stacks.loader import SpecError, load_environment
from tests.cli_runner import mlops
from tests.hostile.conftest import PROD_TEXT

SEED = "  mlops-platform:slackWebhookUrl:\n    secure: v1:4m7cFh0qk2P8vLzR:Yx8kV2h3p9QwEr5tZ1nB6mC0aD7sF4gH\n"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_environment(path)
    return [str(p).removeprefix(f"{path}:") for p in info.value.problems]


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("12", "a number"),
        ("null", "null"),
        ('""', "an empty string"),
        ("[a]", "a list"),
        ("{a: 1}", "a mapping"),
        ("'not ciphertext!'", "text that is not ciphertext"),
    ],
)
def test_malformed_secure_values(tmp_path: Path, value: str, kind: str) -> None:
    text = PROD_TEXT.replace(SEED, f"  mlops-platform:slackWebhookUrl:\n    secure: {value}\n")
    line = line_of(text, "    secure: ")
    assert problems_of(tmp_path, text) == [
        f"{line}: mlops-platform:slackWebhookUrl.secure: must be the ciphertext that `pulumi config set "
        f"--secret` writes, got {kind}; set the secret again with that command"
    ]


def test_url_secret_naming_an_absent_key(tmp_path: Path) -> None:
    text = PROD_TEXT.replace(SEED, "")
    line = line_of(text, "url_secret: slackWebhookUrl")
    assert problems_of(tmp_path, text) == [
        f"{line}: mlops-platform:monitoring.receivers[1].url_secret: names the secret 'slackWebhookUrl', "
        "which this file does not hold; set it with `pulumi config set --secret slackWebhookUrl <url>`"
    ]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("60 2 * * *", "cron minute must be 0-59 (got 60 in '60 2 * * *')"),
        ("0 24 * * *", "cron hour must be 0-23 (got 24 in '0 24 * * *')"),
        ("0 2 * 13 *", "cron month must be 1-12 (got 13 in '0 2 * 13 *')"),
        ("*/0 * * * *", "cron minute: a step of 0 never fires (got '*/0' in '*/0 * * * *')"),
        ("0 2 0 * *", "cron day of month must be 1-31 (got 0 in '0 2 0 * *')"),
        ("0 5-1 * * *", "cron hour: range 5-1 runs backwards (in '0 5-1 * * *')"),
    ],
)
def test_cron_fields_out_of_range(tmp_path: Path, schedule: str, message: str) -> None:
    text = PROD_TEXT.replace(
        "  mlops-platform:monitoring:\n",
        f"  mlops-platform:monitoring:\n    drift: {{schedule: '{schedule}'}}\n",
    )
    line = line_of(text, "drift: {schedule")
    assert problems_of(tmp_path, text) == [f"{line}: monitoring.drift.schedule: {message}"]


@pytest.mark.parametrize(
    ("bucket", "message"),
    [
        ("data..sets", "bucket names must not contain '..', '.-' or '-.' (got 'data..sets')"),
        ("192.168.10.1", "bucket names must not be formatted as an IP address (got '192.168.10.1')"),
    ],
)
def test_bucket_names_s3_refuses(tmp_path: Path, bucket: str, message: str) -> None:
    text = PROD_TEXT.replace(
        "  mlops-platform:storage:\n",
        f"  mlops-platform:storage:\n    object_store: {{buckets: [{{name: '{bucket}'}}]}}\n",
    )
    problems = problems_of(tmp_path, text)
    line = line_of(text, "object_store: {buckets")
    assert f"{line}: storage.object_store.buckets[0].name: {message}" in problems


@pytest.mark.parametrize(
    ("key", "kind"), [("1", "an integer"), ("true", "a boolean"), ("~", "null"), ("1.5", "a number")]
)
def test_non_string_keys(tmp_path: Path, key: str, kind: str) -> None:
    text = PROD_TEXT.replace("    name: prod\n", f"    name: prod\n    {key}: x\n")
    line = line_of(text, f"    {key}: x")
    assert problems_of(tmp_path, text) == [
        f"{line}: config.mlops-platform:environment: key {key!r} is read as {kind}: "
        "keys must be strings (quote it)"
    ]


def test_an_unknown_top_level_key_beside_config(tmp_path: Path) -> None:
    text = PROD_TEXT + "confg:\n  mlops-platform:serving: {}\n"
    line = line_of(text, "confg:")
    assert problems_of(tmp_path, text) == [
        f"{line}: confg: unknown top-level key (a stack file has config, encryptionsalt, encryptedkey, "
        "secretsprovider, environment)"
    ]


def test_the_cli_exits_2_on_each(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(PROD_TEXT.replace(SEED, "") + "extra: 1\n", encoding="utf-8")
    result = mlops("validate", str(path))
    assert result.returncode == 2
    assert [line.split(": ", 2)[1] for line in result.stderr.splitlines()] == [
        "mlops-platform:monitoring.receivers[1].url_secret",
        "extra",
    ]


def test_waivers_naming_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "waivers.yaml"
    result = mlops("audit", "dev", "--waivers", str(missing))
    assert (result.returncode, result.stderr.strip()) == (2, f"--waivers: file not found: {missing}")


def test_today_empty() -> None:
    result = mlops("audit", "dev", "--today", "")
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "--today: must be an ISO date such as 2026-12-31 (got '')",
    )
