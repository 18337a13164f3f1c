"""Every generated Prometheus / Alertmanager file through the real tools: promtool and amtool.

The configs are rendered from the bundled environment specs. ``promtool test rules`` feeds series
above and below each SLO and asserts exactly which alerts fire. In CI (``CI=true``) a missing tool
is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops_platform.components import rendering
from mlops_platform.components.args import DriftArgs, ModelSlo, ReceiverArgs, ScrapeTarget
from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.schema import EnvironmentSpec

ENVIRONMENTS = ("dev", "staging", "prod")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = "prometheus-alertmanager" if name == "amtool" else "prometheus"
        message = f"{name} is required to validate generated monitoring files (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _targets(spec: EnvironmentSpec) -> list[ScrapeTarget]:
    """The scrape targets of a spec's models, as the serving layer reports them."""
    targets = []
    for model in spec.serving.models:
        drift = spec.drift_for(model)
        targets.append(
            ScrapeTarget(
                model=model.name,
                host=f"model-{model.name}",
                port=model.port,
                slo=ModelSlo(p99_latency_ms=model.slo.p99_latency_ms, error_rate=model.slo.error_rate),
                drift=DriftArgs(
                    schedule=drift.schedule,
                    psi_threshold=drift.psi_threshold,
                    feature_share_threshold=drift.feature_share_threshold,
                )
                if drift.enabled
                else None,
                canary_host=f"model-{model.name}-canary" if model.canary else None,
            )
        )
    return targets


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def spec(request: pytest.FixtureRequest) -> EnvironmentSpec:
    return load_environment(request.param)


def test_prometheus_config_of_every_environment_passes_promtool(
    spec: EnvironmentSpec, tmp_path: Path
) -> None:
    promtool = _tool("promtool")
    targets = _targets(spec)
    rules = tmp_path / "models.yml"
    rules.write_text(rendering.render_alert_rules(targets))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        rendering.render_prometheus_config(
            targets, spec.monitoring.scrape_interval_seconds, [str(rules)], "alertmanager:9093"
        )
    )

    output = _run(promtool, "check", "config", str(config))

    assert "1 rule files found" in output
    assert len(yaml.safe_load(config.read_text())["scrape_configs"]) == len(targets) + 1


def test_prometheus_config_as_uploaded_passes_promtool_syntax_check(
    spec: EnvironmentSpec, tmp_path: Path
) -> None:
    """The exact file the Docker target uploads (rules at the in-container path)."""
    promtool = _tool("promtool")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        rendering.render_prometheus_config(_targets(spec), 30, alertmanager="alertmanager:9093")
    )
    _run(promtool, "check", "config", "--syntax-only", str(config))


def test_alert_rules_of_every_environment_pass_promtool(spec: EnvironmentSpec, tmp_path: Path) -> None:
    promtool = _tool("promtool")
    targets = _targets(spec)
    rules = tmp_path / "models.yml"
    rules.write_text(rendering.render_alert_rules(targets))

    output = _run(promtool, "check", "rules", str(rules))

    with_drift = sum(1 for t in targets if t.drift is not None)
    assert f"SUCCESS: {2 * len(targets) + 2 * with_drift} rules found" in output
    for group in rendering.alert_rule_groups(targets):  # each group on its own, as a PrometheusRule holds it
        single = tmp_path / f"{group['name']}.yml"
        single.write_text(yaml.safe_dump({"groups": [group]}))
        _run(promtool, "check", "rules", str(single))


SLOW = ScrapeTarget(
    model="slow",
    host="model-slow",
    port=8080,
    slo=ModelSlo(p99_latency_ms=300, error_rate=0.01),
    drift=DriftArgs(schedule="0 * * * *", psi_threshold=0.2, feature_share_threshold=0.3),
)
FAST = ScrapeTarget(
    model="fast",
    host="model-fast",
    port=8080,
    slo=ModelSlo(p99_latency_ms=300, error_rate=0.01),
    drift=DriftArgs(schedule="0 * * * *", psi_threshold=0.2, feature_share_threshold=0.3),
)


def _series() -> list[dict[str, str]]:
    """60 requests a minute each. ``slow``: every request in (0.5s, 1s], 10% 5xx, PSI 0.5, 60% features
    drifted. ``fast``: every request under 0.1s, no 5xx, PSI 0.1, 10% drifted."""
    series = []
    for model, buckets in (
        ("slow", {"0.1": 0, "0.5": 0, "1": 60, "+Inf": 60}),
        ("fast", dict.fromkeys(("0.1", "0.5", "1", "+Inf"), 60)),
    ):
        for le, per_minute in buckets.items():
            series.append(
                {
                    "series": f'http_request_duration_seconds_bucket{{model="{model}",le="{le}"}}',
                    "values": f"0+{per_minute}x40",
                }
            )
    for model, ok, failed in (("slow", 54, 6), ("fast", 60, 0)):
        series.append(
            {"series": f'http_requests_total{{model="{model}",status="200"}}', "values": f"0+{ok}x40"}
        )
        series.append(
            {"series": f'http_requests_total{{model="{model}",status="503"}}', "values": f"0+{failed}x40"}
        )
    for model, psi, share in (("slow", "0.5", "0.6"), ("fast", "0.1", "0.1")):
        series.append({"series": f'model_drift_psi{{model="{model}"}}', "values": f"{psi}x40"})
        series.append({"series": f'model_drift_feature_share{{model="{model}"}}', "values": f"{share}x40"})
    return series


def _alert(model: str, slo: str, severity: str, summary: str, description: str) -> dict:
    return {
        "exp_labels": {"severity": severity, "model": model, "slo": slo},
        "exp_annotations": {"summary": summary, "description": description},
    }


EXPECTED_AT_20M = {
    "ModelLatencyP99AboveSlo": [
        _alert(
            "slow",
            "latency",
            "critical",
            "p99 latency of slow above its SLO of 300 ms",
            "p99 latency over 5m is 995ms, SLO 300 ms.",
        )
    ],
    "ModelErrorRateAboveSlo": [
        _alert(
            "slow",
            "error-rate",
            "critical",
            "5xx ratio of slow above its SLO of 0.01",
            "5xx ratio over 5m is 10%, SLO 0.01.",
        )
    ],
    "ModelDriftPsiAboveThreshold": [
        _alert(
            "slow",
            "drift",
            "warning",
            "Population stability index of slow above 0.2",
            "Worst feature PSI is 0.5; retrain or roll back.",
        )
    ],
    "ModelDriftFeatureShareAboveThreshold": [
        _alert(
            "slow",
            "drift",
            "warning",
            "Share of drifted features of slow above 0.3",
            "60% of features drifted; retrain or roll back.",
        )
    ],
}


def test_alert_rules_fire_above_the_slo_and_only_there(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    (tmp_path / "models.yml").write_text(rendering.render_alert_rules([SLOW, FAST]))
    alert_tests = []
    for name, expected in EXPECTED_AT_20M.items():
        alert_tests.append({"eval_time": "20m", "alertname": name, "exp_alerts": expected})
        # before `for:` has elapsed nothing fires, even for the breaching model
        alert_tests.append({"eval_time": "3m", "alertname": name, "exp_alerts": []})
    tests = {
        "rule_files": ["models.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": _series(), "alert_rule_test": alert_tests}],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))

    output = _run(promtool, "test", "rules", str(tmp_path / "tests.yml"))

    assert "SUCCESS" in output


def test_rule_unit_test_detects_a_wrong_expectation(tmp_path: Path) -> None:
    """Guards the test above: the same harness fails when the fast model is expected to alert."""
    promtool = _tool("promtool")
    (tmp_path / "models.yml").write_text(rendering.render_alert_rules([FAST]))
    wrong = [_alert("fast", "latency", "critical", "x", "y")]
    tests = {
        "rule_files": ["models.yml"],
        "tests": [
            {
                "interval": "1m",
                "input_series": _series(),
                "alert_rule_test": [
                    {"eval_time": "20m", "alertname": "ModelLatencyP99AboveSlo", "exp_alerts": wrong}
                ],
            }
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "tests.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0, result.stdout


def _receivers(spec: EnvironmentSpec) -> tuple[list[ReceiverArgs], dict[str, str]]:
    receivers = [ReceiverArgs(name=r.name, kind=r.kind, email=r.email) for r in spec.monitoring.receivers]
    urls = {
        r.name: f"https://hooks.example.test/{r.name}" for r in spec.monitoring.receivers if r.kind != "email"
    }
    return receivers, urls


def test_alertmanager_config_of_every_environment_passes_amtool(
    spec: EnvironmentSpec, tmp_path: Path
) -> None:
    amtool = _tool("amtool")
    receivers, urls = _receivers(spec)
    config = tmp_path / "alertmanager.yml"
    config.write_text(rendering.render_alertmanager_config(receivers, urls))

    output = _run(amtool, "check-config", str(config))

    assert f"{len(receivers)} receivers" in output


def test_alertmanager_routes_every_alert_to_every_receiver(tmp_path: Path) -> None:
    amtool = _tool("amtool")
    receivers = [
        ReceiverArgs(name="oncall", kind="email", email="oncall@acme.example"),
        ReceiverArgs(name="slack-ml", kind="slack"),
        ReceiverArgs(name="pager", kind="webhook"),
    ]
    urls = {"slack-ml": "https://hooks.example.test/slack", "pager": "https://hooks.example.test/pager"}
    config = tmp_path / "alertmanager.yml"
    config.write_text(rendering.render_alertmanager_config(receivers, urls))
    _run(amtool, "check-config", str(config))

    output = _run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={config}",
        "alertname=ModelErrorRateAboveSlo",
        "model=x",
    )

    assert output.splitlines()[0].strip() == "oncall,slack-ml,pager"


def test_alert_after_seconds_is_the_rules_pending_duration(tmp_path: Path) -> None:
    """``slo.alert_after_seconds`` and ``drift.alert_after_seconds`` are each rule's ``for``: a breaching
    model with 60 s fires at 3m (the defaults, 5m and 15m, do not: the test above)."""
    promtool = _tool("promtool")
    quick = ScrapeTarget(
        model="slow",
        host="model-slow",
        port=8080,
        slo=ModelSlo(p99_latency_ms=300, error_rate=0.01, alert_after_seconds=60),
        drift=DriftArgs(
            schedule="0 * * * *", psi_threshold=0.2, feature_share_threshold=0.3, alert_after_seconds=60
        ),
    )
    (tmp_path / "models.yml").write_text(rendering.render_alert_rules([quick]))
    groups = rendering.alert_rule_groups([quick])
    assert {r["alert"]: r["for"] for r in groups[0]["rules"]} == dict.fromkeys(
        [
            "ModelLatencyP99AboveSlo",
            "ModelErrorRateAboveSlo",
            "ModelDriftPsiAboveThreshold",
            "ModelDriftFeatureShareAboveThreshold",
        ],
        "1m",
    )
    alert_tests = [
        {"eval_time": "3m", "alertname": name, "exp_alerts": expected}
        for name, expected in EXPECTED_AT_20M.items()
    ]
    tests = {
        "rule_files": ["models.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": _series(), "alert_rule_test": alert_tests}],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))

    assert "SUCCESS" in _run(promtool, "test", "rules", str(tmp_path / "tests.yml"))
