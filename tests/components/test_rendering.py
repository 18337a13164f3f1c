"""The pure renderers: determinism, order independence, SLO-derived alerts, strictness, valid output."""

from __future__ import annotations

import json
import shutil
import subprocess

import jinja2
import pytest
import yaml

from mlops_platform.components import rendering
from mlops_platform.components.args import BucketArgs, DriftArgs, ModelSlo, ReceiverArgs, ScrapeTarget

FRAUD = ScrapeTarget(
    model="fraud-scorer",
    host="model-fraud-scorer-stable",
    port=8080,
    slo=ModelSlo(p99_latency_ms=150, error_rate=0.001),
    drift=DriftArgs(schedule="0 * * * *", psi_threshold=0.25, feature_share_threshold=0.4),
    canary_host="model-fraud-scorer-canary",
)
CHURN = ScrapeTarget(
    model="churn-predictor",
    host="model-churn-predictor",
    port=9000,
    slo=ModelSlo(p99_latency_ms=400, error_rate=0.01),
)
EMAIL = ReceiverArgs(name="oncall", kind="email", email="oncall@acme.example")
SLACK = ReceiverArgs(name="slack-ml", kind="slack")
HOOK = ReceiverArgs(name="pager", kind="webhook")
URLS = {"slack-ml": "https://hooks.slack.example/T0/B0/xyz", "pager": "https://pager.acme.example/hook"}


def _rules_by_group(models: list[ScrapeTarget]) -> dict[str, dict[str, dict]]:
    return {g["name"]: {r["alert"]: r for r in g["rules"]} for g in rendering.alert_rule_groups(models)}


def test_prometheus_config_scrapes_every_model_as_its_own_job() -> None:
    config = yaml.safe_load(
        rendering.render_prometheus_config([FRAUD, CHURN], 15, ["/rules.yml"], "alertmanager:9093")
    )

    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert sorted(jobs) == ["model-churn-predictor", "model-fraud-scorer", "prometheus"]
    fraud = jobs["model-fraud-scorer"]["static_configs"]
    assert [(s["targets"], s["labels"]["track"]) for s in fraud] == [
        (["model-fraud-scorer-stable:8080"], "stable"),
        (["model-fraud-scorer-canary:8080"], "canary"),
    ]
    assert all(s["labels"]["model"] == "fraud-scorer" for s in fraud)
    assert jobs["model-churn-predictor"]["static_configs"] == [
        {"targets": ["model-churn-predictor:9000"], "labels": {"model": "churn-predictor", "track": "stable"}}
    ]
    assert config["global"]["scrape_interval"] == "15s"
    assert config["rule_files"] == ["/rules.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert "kubernetes_sd_configs" not in json.dumps(config)


def test_renderers_are_deterministic_and_ignore_model_order() -> None:
    forward = rendering.render_prometheus_config([FRAUD, CHURN], 30)
    assert forward == rendering.render_prometheus_config([CHURN, FRAUD], 30)
    assert rendering.render_alert_rules([FRAUD, CHURN]) == rendering.render_alert_rules([CHURN, FRAUD])
    assert rendering.render_grafana_dashboard(FRAUD) == rendering.render_grafana_dashboard(FRAUD)


def test_alert_rules_follow_each_models_slo() -> None:
    groups = _rules_by_group([FRAUD, CHURN])

    assert sorted(groups) == ["model-churn-predictor", "model-fraud-scorer"]
    fraud = groups["model-fraud-scorer"]
    latency = fraud["ModelLatencyP99AboveSlo"]
    assert 'http_request_duration_seconds_bucket{model="fraud-scorer"}' in latency["expr"]
    assert latency["expr"].startswith("histogram_quantile(0.99,")
    assert latency["expr"].rstrip().endswith("> 0.15")  # 150 ms in seconds
    errors = fraud["ModelErrorRateAboveSlo"]
    assert 'status=~"5.."' in errors["expr"] and errors["expr"].rstrip().endswith("> 0.001")
    assert fraud["ModelDriftPsiAboveThreshold"]["expr"] == 'max(model_drift_psi{model="fraud-scorer"}) > 0.25'
    assert fraud["ModelDriftFeatureShareAboveThreshold"]["expr"].endswith("> 0.4")
    assert {r["labels"]["model"] for r in fraud.values()} == {"fraud-scorer"}
    # churn has no drift check: SLO alerts only, its own thresholds
    churn = groups["model-churn-predictor"]
    assert sorted(churn) == ["ModelErrorRateAboveSlo", "ModelLatencyP99AboveSlo"]
    assert churn["ModelLatencyP99AboveSlo"]["expr"].rstrip().endswith("> 0.4")


def test_alert_rule_groups_are_the_rules_file() -> None:
    text = rendering.render_alert_rules([FRAUD, CHURN])
    assert yaml.safe_load(text) == {"groups": rendering.alert_rule_groups([FRAUD, CHURN])}
    assert rendering.alert_rule_group(CHURN) == rendering.alert_rule_groups([CHURN])[0]
    assert yaml.safe_load(rendering.render_alert_rules([])) == {"groups": []}


def test_templates_are_strict_about_missing_values() -> None:
    with pytest.raises(jinja2.UndefinedError):
        rendering._ENV.get_template("nginx_canary.conf.j2").render(model="m")


def test_alertmanager_routes_to_every_receiver_with_its_url() -> None:
    config = yaml.safe_load(rendering.render_alertmanager_config([EMAIL, SLACK, HOOK], URLS))

    assert config["route"]["receiver"] == "oncall"
    assert [r["receiver"] for r in config["route"]["routes"]] == ["oncall", "slack-ml", "pager"]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["oncall"]["email_configs"][0]["to"] == "oncall@acme.example"
    assert receivers["slack-ml"]["slack_configs"][0]["api_url"] == URLS["slack-ml"]
    assert receivers["pager"]["webhook_configs"][0]["url"] == URLS["pager"]


def test_alertmanager_refuses_missing_urls_and_no_receivers() -> None:
    with pytest.raises(ValueError, match="no URL for receiver"):
        rendering.render_alertmanager_config([EMAIL, HOOK], {})
    with pytest.raises(ValueError, match="at least one receiver"):
        rendering.render_alertmanager_config([], {})


def test_grafana_dashboard_per_model_shows_slos_and_drift() -> None:
    fraud = rendering.grafana_dashboard(FRAUD)
    churn = rendering.grafana_dashboard(CHURN)

    assert fraud["uid"] == "model-fraud-scorer" and fraud["title"] == "Model fraud-scorer"
    titles = [p["title"] for p in fraud["panels"]]
    assert titles[1] == "p99 latency (SLO 150 ms)" and titles[-1].startswith("Drift: PSI")
    latency = fraud["panels"][1]
    assert latency["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] == 0.15
    assert all('model="fraud-scorer"' in p["targets"][0]["expr"] for p in fraud["panels"])
    assert len(churn["panels"]) == 3  # no drift panel without a drift check
    assert len({p["id"] for p in fraud["panels"]}) == len(fraud["panels"])
    assert json.loads(rendering.render_grafana_dashboard(FRAUD)) == fraud


def test_a_dashboard_for_a_shared_grafana_names_its_environment() -> None:
    own = rendering.grafana_dashboard(FRAUD)
    shared = rendering.grafana_dashboard(FRAUD, "staging")
    assert (shared["uid"], shared["title"]) == ("staging-fraud-scorer", "Model fraud-scorer (staging)")
    assert shared["tags"] == ["mlops", "model", "fraud-scorer", "staging"]
    assert shared["panels"] == own["panels"]
    assert rendering.dashboard_file_name("fraud-scorer", "staging") == "staging-model-fraud-scorer.json"
    assert rendering.dashboard_file_name("fraud-scorer") == "model-fraud-scorer.json"
    # Grafana's 40-character cap: long names keep a prefix and a hash of the whole, so they stay apart
    long_env, model = "e" * 25, "m" * 20
    uids = {rendering.dashboard_uid(model + tail, long_env) for tail in ("-a", "-b")}
    assert len(uids) == 2
    assert all(len(u) == rendering.UID_MAX and u.startswith(f"{long_env}-mmmmm-") for u in uids), uids
    assert rendering.dashboard_uid("fraud-scorer", "e" * 27) == "e" * 27 + "-fraud-scorer"  # 40: kept


def test_grafana_provisioning_files() -> None:
    datasource = yaml.safe_load(rendering.render_grafana_datasource("http://prometheus:9090", 60))
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert datasource["datasources"][0]["uid"] == rendering.DATASOURCE_UID
    assert datasource["datasources"][0]["jsonData"]["timeInterval"] == "60s"
    provider = yaml.safe_load(rendering.render_grafana_dashboard_provider())
    assert provider["providers"][0]["options"]["path"] == rendering.DASHBOARDS_PATH


def test_nginx_split_weights_sum_to_one_hundred() -> None:
    text = rendering.render_nginx_canary("fraud-scorer", "stable:8080", "canary:8080", 10, 8080)

    assert "server stable:8080 weight=90 " in text
    assert "server canary:8080 weight=10 " in text
    assert "listen 8080;" in text and "proxy_pass http://model_fraud_scorer;" in text
    with pytest.raises(ValueError, match="1-99"):
        rendering.render_nginx_canary("m", "a:1", "b:1", 100, 8080)


def test_bucket_script_is_valid_sh_and_sets_versioning_and_expiry() -> None:
    buckets = [
        BucketArgs(name="mlflow-artifacts", versioning=True),
        BucketArgs(name="scratch", versioning=False, retention_days=7),
    ]
    script = rendering.render_bucket_script("http://object-store:9000", buckets)

    assert "mc mb --ignore-existing store/mlflow-artifacts" in script
    assert "mc version enable store/mlflow-artifacts" in script
    assert "mc version enable store/scratch" not in script
    assert "--expire-days 7 store/scratch" in script
    assert "MINIO_ROOT_PASSWORD" in script and "http://object-store:9000" in script
    shell = shutil.which("sh")
    assert shell is not None
    subprocess.run([shell, "-n"], input=script, text=True, check=True)  # syntax check only


@pytest.mark.parametrize(
    ("schedule", "time", "fires"),
    [
        ("0 * * * *", "00 05 01 01 1", True),
        ("0 * * * *", "01 05 01 01 1", False),
        ("*/15 * * * *", "45 05 01 01 1", True),
        ("*/15 * * * *", "08 05 01 01 1", False),  # leading zero: not read as octal
        ("0 */6 * * *", "00 12 01 01 1", True),
        ("0 */6 * * *", "00 13 01 01 1", False),
        ("0 2 * * 1-5", "00 02 09 01 5", True),
        ("0 2 * * 1-5", "00 02 09 01 0", False),
        ("0 0 * * 7", "00 00 07 03 0", True),  # 7 is Sunday too
        ("30 8 1 * 0", "30 08 07 03 0", True),  # day of month OR day of week when both are set
        ("30 8 1 * 0", "30 08 07 03 3", False),
        ("5,10-12 * * * *", "11 00 01 01 1", True),
        ("5,10-12 * * * *", "13 00 01 01 1", False),
    ],
)
def test_cron_runner_matches_like_cron(schedule: str, time: str, fires: bool) -> None:
    shell = shutil.which("dash") or shutil.which("sh")
    assert shell is not None
    # invoked exactly as the Docker jobs run it: sh -c <runner> cron-runner <args...>
    runner = rendering.render_cron_runner(schedule)
    result = subprocess.run([shell, "-c", runner, "cron-runner", "--matches", *time.split()], check=False)
    assert (result.returncode == 0) is fires


def test_scheduled_job_scripts_are_valid_sh() -> None:
    for script in (rendering.render_cron_runner("0 2 * * *"), rendering.render_backup_script("/backups", 7)):
        subprocess.run(["sh", "-n"], input=script, text=True, check=True)
    assert "-mtime +6 -delete" in rendering.render_backup_script("/backups", 7)
    with pytest.raises(ValueError, match="five-field"):
        rendering.render_cron_runner("0 2 * *")
