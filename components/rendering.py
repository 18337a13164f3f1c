"""Pure renderers of every file the platform ships: Prometheus, alert rules, Alertmanager, Grafana, nginx.

Each function is a deterministic function of plain values (no Pulumi inputs), so both targets render
outside ``.apply()`` whenever the spec already knows the values. The single exception is the
Alertmanager config, whose webhook URLs are secrets: ``alertmanager_config`` renders it inside
``Output.secret(...).apply`` and creates no resource there.

Lists are sorted by model / receiver-independent keys where order carries no meaning, so re-ordering
models in the spec never changes a rendered file (and so never a resource's inputs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pulumi
import yaml

from mlops_platform.components.args import BucketArgs, ReceiverArgs, ScrapeTarget, Track

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
GRAFANA_PORT = 3000
PUSHGATEWAY_PORT = 9091
RULES_PATH = "/etc/prometheus/rules/models.yml"
"""Where the model alert rules live inside the Prometheus container (contract with the policies)."""
DASHBOARDS_PATH = "/etc/grafana/dashboards"
DATASOURCE_UID = "prometheus"

RATE_WINDOW = "5m"  # rate() window of the SLO alerts: >= 4x the longest scrape interval we allow (60s)
REPEAT_INTERVAL = "4h"
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: ~10x faster

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # YAML/JSON/nginx, not HTML: values are quoted with |tojson where needed
)


def _render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


def _duration(seconds: int) -> str:
    """``300`` -> ``5m``, ``45`` -> ``45s``: a Prometheus duration, in minutes when it is whole minutes."""
    return f"{seconds // 60}m" if seconds and seconds % 60 == 0 else f"{seconds}s"


def _seconds(milliseconds: int) -> str:
    """``300`` -> ``0.3``: Prometheus histograms are in seconds; repr keeps it exact and short."""
    return repr(milliseconds / 1000)


# --- Prometheus -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    address: str
    track: str


def _endpoints(target: ScrapeTarget) -> list[_Endpoint]:
    endpoints = [_Endpoint(f"{target.host}:{target.port}", Track.STABLE.value)]
    if target.canary_host:
        endpoints.append(_Endpoint(f"{target.canary_host}:{target.port}", Track.CANARY.value))
    return endpoints


def render_prometheus_config(
    targets: Sequence[ScrapeTarget],
    scrape_interval_seconds: int,
    rule_files: Sequence[str] = (RULES_PATH,),
    alertmanager: Sequence[str] | str | None = None,
    *,
    external_labels: Mapping[str, str] | None = None,
    pushgateway: str | None = None,
) -> str:
    """``prometheus.yml`` scraping every endpoint as the job ``model-<model>`` with static targets.

    Args:
        targets: One per model; a canary host becomes a second target labelled ``track="canary"``.
        scrape_interval_seconds: Global scrape and rule evaluation interval.
        rule_files: Rule file paths as seen by Prometheus.
        alertmanager: ``host:port`` of one or more Alertmanagers; None sends no alerts.
        external_labels: Added to every series leaving this Prometheus (e.g. ``environment``).
        pushgateway: ``host:port`` of the Pushgateway the drift jobs push to, scraped as the job
            ``pushgateway`` with ``honor_labels``; None scrapes none.
    """
    alertmanagers = [alertmanager] if isinstance(alertmanager, str) else list(alertmanager or ())
    ordered = sorted(targets, key=lambda t: t.model)
    return _render(
        "prometheus.yml.j2",
        scrape_interval_seconds=scrape_interval_seconds,
        scrape_timeout_seconds=min(10, scrape_interval_seconds),
        evaluation_interval_seconds=scrape_interval_seconds,
        external_labels=dict(external_labels or {}),
        rule_files=list(rule_files),
        alertmanagers=alertmanagers,
        self_port=PROMETHEUS_PORT,
        pushgateway=pushgateway,
        targets=[
            {"model": t.model, "metrics_path": t.metrics_path, "endpoints": _endpoints(t)} for t in ordered
        ],
    )


# --- alert rules ------------------------------------------------------------------------------


def render_alert_rules(models: Sequence[ScrapeTarget]) -> str:
    """A Prometheus rules file: one group ``model-<model>`` per model, alerts derived from its SLOs.

    Per model: p99 latency above ``slo.p99_latency_ms`` and 5xx ratio above ``slo.error_rate`` (both
    ``severity: critical``), plus, when drift is on, PSI and drifted-feature-share alerts over the
    model's thresholds (``severity: warning``). Series are selected by the ``model`` label.
    """
    ordered = sorted(models, key=lambda m: m.model)
    return _render(
        "alert_rules.yml.j2",
        window=RATE_WINDOW,
        models=[
            {
                "model": m.model,
                "severity": "critical",
                "p99_latency_ms": m.slo.p99_latency_ms,
                "p99_latency_seconds": _seconds(m.slo.p99_latency_ms),
                "error_rate": repr(float(m.slo.error_rate)),
                "for_duration": _duration(m.slo.alert_after_seconds),
                "drift": m.drift,
                "drift_for_duration": _duration(m.drift.alert_after_seconds) if m.drift else None,
            }
            for m in ordered
        ],
    )


def alert_rule_groups(models: Sequence[ScrapeTarget]) -> list[dict[str, Any]]:
    """The groups of ``render_alert_rules`` as data, e.g. for a PrometheusRule's ``spec.groups``."""
    loaded = yaml.load(render_alert_rules(models), Loader=_SafeLoader)  # CSafeLoader or SafeLoader
    groups: list[dict[str, Any]] = loaded["groups"]
    return groups


def alert_rule_group(model: ScrapeTarget) -> dict[str, Any]:
    """The single group ``model-<model>`` for one model (one PrometheusRule per model on Kubernetes)."""
    return alert_rule_groups([model])[0]


# --- Alertmanager -----------------------------------------------------------------------------


def render_alertmanager_config(
    receivers: Sequence[ReceiverArgs],
    urls: Mapping[str, str],
    *,
    smtp_smarthost: str = "localhost:25",
    smtp_from: str = "alertmanager@localhost",
    smtp_require_tls: bool = False,
) -> str:
    """``alertmanager.yml`` sending every alert to every receiver, grouped by alert and model.

    Args:
        receivers: At least one; the first is also the root route's fallback.
        urls: Receiver name -> resolved webhook/Slack URL (a secret: the result is secret too).
        smtp_smarthost: SMTP relay for e-mail receivers (``host:port``).
        smtp_from: Sender address of alert e-mails.
        smtp_require_tls: Whether the relay must offer STARTTLS.
    """
    if not receivers:
        raise ValueError("Alertmanager needs at least one receiver")
    missing = sorted(r.name for r in receivers if r.kind != "email" and r.name not in urls)
    if missing:
        raise ValueError(f"no URL for receiver(s) {', '.join(missing)}")
    return _render(
        "alertmanager.yml.j2",
        receivers=list(receivers),
        urls=dict(urls),
        smtp_smarthost=smtp_smarthost,
        smtp_from=smtp_from,
        smtp_require_tls=smtp_require_tls,
        repeat_interval=REPEAT_INTERVAL,
    )


def alertmanager_config(receivers: Sequence[ReceiverArgs], **options: Any) -> pulumi.Output[str]:
    """``render_alertmanager_config`` over the receivers' (secret) URLs; secret whenever a URL exists.

    Renders inside ``apply`` only because the URLs are Outputs; creates no resource.
    """
    urls = {r.name: r.webhook_url for r in receivers if r.kind != "email" and r.webhook_url is not None}
    if not urls:
        return pulumi.Output.from_input(render_alertmanager_config(receivers, {}, **options))
    resolved = pulumi.Output.all(**urls)
    return pulumi.Output.secret(resolved.apply(lambda u: render_alertmanager_config(receivers, u, **options)))


# --- Grafana ----------------------------------------------------------------------------------


def render_grafana_datasource(prometheus_url: str, scrape_interval_seconds: int) -> str:
    """Grafana provisioning file declaring Prometheus as the default datasource (uid ``prometheus``)."""
    return _render(
        "grafana_datasource.yml.j2",
        prometheus_url=prometheus_url,
        scrape_interval_seconds=scrape_interval_seconds,
        datasource_uid=DATASOURCE_UID,
    )


def render_grafana_dashboard_provider(dashboards_path: str = DASHBOARDS_PATH, folder: str = "Models") -> str:
    """Grafana provisioning file loading every dashboard JSON under ``dashboards_path``."""
    return _render("grafana_dashboards.yml.j2", dashboards_path=dashboards_path, folder=folder)


UID_MAX = 40  # Grafana caps dashboard uids at 40 characters


def dashboard_file_name(model: str, environment: str | None = None) -> str:
    """The dashboard's file (ConfigMap key); with ``environment``, one that others' cannot overwrite."""
    return f"model-{model}.json" if environment is None else f"{environment}-model-{model}.json"


def dashboard_uid(model: str, environment: str | None = None) -> str:
    """``model-<model>`` (the environment's own Grafana), or ``<environment>-<model>`` for a Grafana
    shared by environments, where two environments serving one model must not share a uid; a longer one
    keeps at most 31 characters and a hash of the whole (distinct uids stay distinct)."""
    if environment is None:
        return f"model-{model}"[:UID_MAX]
    uid = f"{environment}-{model}"
    if len(uid) <= UID_MAX:
        return uid
    return f"{uid[: UID_MAX - 9].rstrip('-')}-{hashlib.sha256(uid.encode()).hexdigest()[:8]}"


def grafana_dashboard(target: ScrapeTarget, environment: str | None = None) -> dict[str, Any]:
    """The dashboard of one model as data: traffic, p99 latency and 5xx ratio against the SLO, drift.

    Args:
        target: The model, its SLOs and drift check.
        environment: For a Grafana shared by environments: in the uid, the title and the tags, so each
            environment's dashboard of one model is its own. None: the environment's own Grafana.
    """
    selector = f'model="{target.model}"'
    window = RATE_WINDOW
    panels = [
        {
            "title": "Requests per second by track",
            "unit": "reqps",
            "threshold": None,
            "expr": f"sum by (track) (rate(http_requests_total{{{selector}}}[{window}]))",
            "legend": "{{track}}",
        },
        {
            "title": f"p99 latency (SLO {target.slo.p99_latency_ms} ms)",
            "unit": "s",
            "threshold": target.slo.p99_latency_ms / 1000,
            "expr": (
                "histogram_quantile(0.99, sum by (le, track) "
                f"(rate(http_request_duration_seconds_bucket{{{selector}}}[{window}])))"
            ),
            "legend": "{{track}}",
        },
        {
            "title": f"5xx ratio (SLO {target.slo.error_rate})",
            "unit": "percentunit",
            "threshold": float(target.slo.error_rate),
            "expr": (
                f'sum by (track) (rate(http_requests_total{{{selector},status=~"5.."}}[{window}])) '
                f"/ sum by (track) (rate(http_requests_total{{{selector}}}[{window}]))"
            ),
            "legend": "{{track}}",
        },
    ]
    if target.drift is not None:
        panels.append(
            {
                "title": f"Drift: PSI (threshold {target.drift.psi_threshold})",
                "unit": "none",
                "threshold": float(target.drift.psi_threshold),
                "expr": f"max(model_drift_psi{{{selector}}})",
                "legend": "psi",
            }
        )
    text = _render(
        "grafana_dashboard.json.j2",
        uid=dashboard_uid(target.model, environment),
        model=target.model,
        environment=environment,
        datasource_uid=DATASOURCE_UID,
        panels=panels,
    )
    dashboard: dict[str, Any] = json.loads(text)  # the template must produce valid JSON: fail loudly here
    return dashboard


def render_grafana_dashboard(target: ScrapeTarget, environment: str | None = None) -> str:
    """``grafana_dashboard`` as canonical JSON text (sorted keys, trailing newline)."""
    return json.dumps(grafana_dashboard(target, environment), indent=2, sort_keys=True) + "\n"


# --- nginx canary split -----------------------------------------------------------------------


def render_nginx_canary(
    model: str, stable_address: str, canary_address: str, canary_weight_percent: int, listen_port: int
) -> str:
    """nginx ``conf.d`` server splitting traffic: ``canary_weight_percent`` of requests to the canary.

    Args:
        model: Model name (names the upstream).
        stable_address: ``host:port`` of the stable server.
        canary_address: ``host:port`` of the canary server.
        canary_weight_percent: 1-99.
        listen_port: Port nginx listens on (unprivileged: >= 1024).
    """
    if not 1 <= canary_weight_percent <= 99:
        raise ValueError(f"canary weight must be within 1-99 percent (got {canary_weight_percent})")
    return _render(
        "nginx_canary.conf.j2",
        model=model,
        upstream=f"model_{model.replace('-', '_')}",
        stable_address=stable_address,
        canary_address=canary_address,
        canary_weight=canary_weight_percent,
        listen_port=listen_port,
    )


# --- object store bootstrap -------------------------------------------------------------------


def render_bucket_script(endpoint: str, buckets: Sequence[BucketArgs]) -> str:
    """Idempotent ``sh`` script creating ``buckets`` on a MinIO at ``endpoint`` with ``mc``.

    Credentials are read from ``MINIO_ROOT_USER`` / ``MINIO_ROOT_PASSWORD`` in the environment.
    """
    return _render("minio_buckets.sh.j2", endpoint=endpoint, buckets=sorted(buckets, key=lambda b: b.name))


# --- scheduled container jobs (Docker has no CronJob) -----------------------------------------


def render_cron_runner(schedule: str) -> str:
    """``sh`` script running its arguments on ``schedule`` (five-field cron, UTC), forever.

    ``cron_runner.sh --matches MIN HOUR DOM MON DOW`` tests a time against the schedule instead.
    """
    if len(schedule.split()) != 5 or "'" in schedule:
        raise ValueError(f"not a five-field cron schedule: {schedule!r}")
    return _render("cron_runner.sh.j2", schedule=schedule)


def render_backup_script(backup_dir: str, retention_days: int) -> str:
    """``sh`` script taking one ``pg_dump`` into ``backup_dir`` and deleting dumps past retention."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    return _render("pg_backup.sh.j2", backup_dir=backup_dir, retention_days=retention_days)
