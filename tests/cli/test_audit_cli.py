"""`mlops preview`, `mlops audit` and `mlops up` end to end, in subprocesses as a user or CI runs them.

Exit codes: 0 clean, 1 unwaived mandatory violation (or policy error), 2 bad input; never a traceback.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from mlops_platform.tools.engine.audit import capture_environment
from tests.cli_runner import mlops

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROD = REPO / "stacks" / "Pulumi.prod.yaml"


def broken_prod(tmp_path: Path) -> Path:
    """The bundled prod spec with one model image pinned by tag only (image-digest-pinned, mandatory)."""
    config = yaml.safe_load(PROD.read_text(encoding="utf-8"))
    model = config["config"]["mlops-platform:serving"]["models"][0]
    model["image"] = model["image"].split("@", 1)[0]
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def test_audit_of_the_bundled_prod_passes_with_a_clear_summary() -> None:
    result = mlops("audit", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== prod (tier prod, target kubernetes): PASSED ==" in result.stdout
    assert "mandatory 0" in result.stdout


def test_audit_exits_1_on_an_unwaived_mandatory_violation(tmp_path: Path) -> None:
    result = mlops("audit", str(broken_prod(tmp_path)), "--format", "json")
    assert result.returncode == 1
    (report,) = json.loads(result.stdout)["environments"]
    assert report["summary"]["mandatory"] >= 1
    assert {v["policy"] for v in report["violations"] if v["enforcement"] == "mandatory"} == {
        "image-digest-pinned"
    }


def test_audit_exits_2_with_located_errors_on_a_bad_spec(tmp_path: Path) -> None:
    bad = tmp_path / "Pulumi.prod.yaml"
    bad.write_text(PROD.read_text(encoding="utf-8").replace("weight: 10", "weight: 100"), encoding="utf-8")
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "weight: 100" in text)
    result = mlops("audit", str(bad))
    assert result.returncode == 2
    assert f"Pulumi.prod.yaml:{line}: serving.models[0].canary.weight: " in result.stderr


def test_audit_exits_2_on_an_invalid_waivers_file(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - policy: image-digest-pinned\n    selector: x\n", encoding="utf-8")
    result = mlops("audit", "prod", "--waivers", str(waivers))
    assert result.returncode == 2
    assert "waivers.yaml:2: waivers[0]" in result.stderr


def test_expired_bundled_waivers_fail_the_audit() -> None:
    result = mlops("audit", "dev", "--today", "2027-07-01", "--format", "json")
    assert result.returncode == 1
    (report,) = json.loads(result.stdout)["environments"]
    expired = [v for v in report["violations"] if v["kind"] == "waiver"]
    assert expired and all("expired" in v["message"] for v in expired)


def test_audit_writes_every_format_to_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    formats = ["json", "sarif", "junit", "markdown", "html"]
    result = mlops("audit", "dev", "prod", *(a for f in formats for a in ("-f", f)), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["mlops-audit.json", "mlops-audit.sarif", "mlops-audit.xml", "mlops-audit.md", "mlops-audit.html"]
    )
    environments = json.loads((out / "mlops-audit.json").read_text())["environments"]
    assert [e["environment"] for e in environments] == ["dev", "prod"]
    assert json.loads((out / "mlops-audit.sarif").read_text())["version"] == "2.1.0"
    assert ET.parse(out / "mlops-audit.xml").getroot().tag == "testsuites"
    assert "PASSED" in result.stdout  # the text summary still reaches the console


def test_audit_rejects_unknown_formats_and_bad_dates() -> None:
    assert mlops("audit", "prod", "--format", "pdf").returncode == 2
    assert mlops("audit", "prod", "--today", "tomorrow").returncode == 2


def test_preview_lists_the_captured_resources_without_secrets() -> None:
    capture = capture_environment(PROD)
    result = mlops("preview", "prod", "--format", "json")
    assert result.returncode == 0, result.stderr
    preview = json.loads(result.stdout)
    assert len(preview["resources"]) == len(capture.resources)
    assert capture.secret_values, "the prod program generates secrets"
    for fmt, shows in (("json", "storage-postgres"), ("tree", "storage-postgres"), ("table", "StorageStack")):
        text = mlops("preview", "prod", "--format", fmt).stdout
        assert shows in text
        leaked = [s for s in capture.secret_values if len(s) >= 8 and s in text]
        assert leaked == [], f"{fmt}: secret values in the preview"


def test_preview_rejects_an_unknown_format() -> None:
    result = mlops("preview", "prod", "--format", "yaml")
    assert result.returncode == 2
    assert "--format" in result.stderr


def test_up_without_any_pulumi_cli_says_what_to_install(tmp_path: Path) -> None:
    """No toolchain build (an empty cache) and no `pulumi` on PATH: exit 2 naming both ways out."""
    env = {"PATH": str(Path(sys.executable).parent), "MLOPS_TOOLCHAIN_CACHE": str(tmp_path / "empty")}
    # --no-verify-images: no image registry is reachable here (tests/supply_chain shows the gate on)
    result = mlops(
        "up", "prod", "--yes", "--no-verify-images", "--local-state", str(tmp_path / "state"), env=env
    )
    assert result.returncode == 2, result.stderr
    assert "no Pulumi CLI" in result.stderr
    assert "mlops toolchain install" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_without_a_terminal_asks_for_yes(tmp_path: Path) -> None:
    result = mlops("up", "prod", "--no-verify-images", "--local-state", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert not (tmp_path / "state").exists(), "nothing may be set up before the confirmation"


def test_the_fast_exit_flushes_every_byte_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """``run`` ends the process without the interpreter's teardown: output must be whole first."""
    preview = mlops("preview", "prod", "--format", "json")
    assert preview.returncode == 0, preview.stderr
    # Hundreds of KB, parsed whole; 85 with the Pushgateway (4) and the drift jobs' Secret (issue 28).
    assert len(json.loads(preview.stdout)["resources"]) == 85
    failed = mlops("audit", str(broken_prod(tmp_path)), "--format", "sarif")
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["runs"][0]["results"]
