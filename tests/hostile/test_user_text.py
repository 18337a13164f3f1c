"""User text is printed as plain text: no rich markup, no emoji codes; long values clipped; secrets hidden."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import mlops
from tests.hostile.conftest import PROD_TEXT

WEBHOOK = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_markup_and_emoji_codes_in_keys_are_printed_literally(tmp_path: Path) -> None:
    text = PROD_TEXT.replace("    name: prod\n", "    name: prod\n    ':fire: [bold red]x[/bold red]': 1\n")
    result = mlops("validate", write(tmp_path, text))
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if "unknown key" in line]
    assert "environment[':fire: [bold red]x[/bold red]']: unknown key" in line
    assert "\N{FIRE}" not in result.stderr and "\x1b[" not in result.stderr


def test_markup_in_a_file_name_is_printed_literally(tmp_path: Path) -> None:
    folder = tmp_path / "[bold]:fire:"
    folder.mkdir()
    path = folder / "Pulumi.prod.yaml"
    path.write_text(PROD_TEXT, encoding="utf-8")
    result = mlops("validate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok {path}: prod")


def test_a_huge_value_is_clipped_in_its_message(tmp_path: Path) -> None:
    huge = "v" * 5_000_000
    text = PROD_TEXT.replace("      - name: feature-cache\n", f"      - name: '{huge}'\n")
    result = mlops("validate", write(tmp_path, text))
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if "volumes[0].name" in line]
    assert len(line) < 400 and "(5,000,002 characters)" in line, line
    assert len(result.stderr) < 2_000


def test_a_webhook_url_pasted_into_url_secret_is_never_echoed(tmp_path: Path) -> None:
    text = PROD_TEXT.replace("url_secret: slackWebhookUrl", f"url_secret: {WEBHOOK}")
    result = mlops("validate", write(tmp_path, text))
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if "url_secret" in line]
    assert line.endswith(f"(got <hidden: {len(WEBHOOK)} characters that may be a secret>)"), line
    assert "hooks.slack.com" not in result.stdout + result.stderr
    assert "T0123ABCD" not in result.stdout + result.stderr


def test_a_webhook_url_in_another_field_is_not_echoed_either(tmp_path: Path) -> None:
    text = PROD_TEXT.replace("    owner: ml-platform@acme.example\n", f"    owner: {WEBHOOK}\n", 1)
    result = mlops("validate", write(tmp_path, text))
    assert result.returncode == 2
    assert "environment.owner: must be an email address" in result.stderr
    assert "abcdefghijklmnopqrstuvwx" not in result.stderr
