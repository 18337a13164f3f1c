"""Reliability rules: resources, health checks, replicas and disruption, backups, storage safety."""

from __future__ import annotations

import re
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.policies import evidence as ev
from mlops_platform.policies.controls import full, partial
from mlops_platform.policies.declaration import (
    BOTH,
    K8S,
    STRING_LIST,
    Cel,
    NotInCel,
    Pack,
    ResourceRule,
    Severity,
    StackRule,
    per_tier,
)
from mlops_platform.policies.evidence import EvidenceSelector
from mlops_platform.policies.rules import _cel as cel
from mlops_platform.policies.rules import _common, _docker, _k8s
from mlops_platform.policies.rules import _scopes as scope
from mlops_platform.policies.rules._model import (
    AppliesTo,
    Config,
    Res,
    as_dict,
    as_int,
    as_list,
    get,
    hkey,
    is_unknown,
    truthy,
    unknown_message,
)

# Components that run to completion (scheduled and one-shot jobs): no probes, no restart-always.
_JOB_COMPONENTS = (L.COMPONENT_DRIFT_CHECK, L.COMPONENT_DATABASE_BACKUP, L.COMPONENT_BUCKET_INIT)
_CRON_FIELD_RE = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")


def is_job_like(res: Res) -> bool:
    return _common.is_component(res, *_JOB_COMPONENTS)


def _long_running(res: Res, cfg: Config) -> bool:
    return not is_job_like(res)


def _restarted(res: Res, cfg: Config) -> bool:
    return res.is_k8s or not is_job_like(res)


HEALTH_CHECKED = AppliesTo(
    summary="long-running Kubernetes kinds and Docker containers, except run-to-completion components",
    types=_k8s.LONG_RUNNING_TYPES | scope.CONTAINERS,
    when=_long_running,
)
RESTARTED = AppliesTo(
    summary="long-running Kubernetes kinds and Docker containers, except run-to-completion Docker components",
    types=_k8s.LONG_RUNNING_TYPES | scope.CONTAINERS,
    when=_restarted,
)


def _positive(value: Any) -> bool:
    """A set, non-zero quantity (``"500m"``, ``"1Gi"``, ``2``, ``0.5``)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return value > 0
    if isinstance(value, str):
        return bool(value.strip()) and value.strip() not in ("0", "0m", "0.0")
    return False


def _k8s_resources(res: Res, section: str) -> list[str]:
    out: list[str] = []
    if is_unknown(_k8s.pod_spec(res)):
        return [unknown_message(_k8s.pod_spec_path(res), "the pod spec")]
    for c in _k8s.containers(res):
        if c.path.split(".")[-1].startswith("ephemeralContainers"):
            continue
        block = get(c.spec, "resources", section)
        if is_unknown(block):
            out.append(unknown_message(f"{c.path}.resources.{section}"))
            continue
        for key in ("cpu", "memory"):
            value = get(block, key)
            if section == "requests" and value is None:
                # Kubernetes copies a limit into a request left unset (core/v1 ResourceRequirements:
                # "If Requests is omitted for a container, it defaults to Limits"): a limit is a request.
                value = get(c.spec, "resources", "limits", key)
            if is_unknown(value):
                out.append(unknown_message(f"{c.path}.resources.{section}.{key}"))
            elif not _positive(value):
                out.append(f'container "{c.name}" has no {key} {section[:-1]} (resources.{section}.{key})')
    return out


def _cel_resources(section: str) -> str:
    """CEL of ``_k8s_resources``: each container and init container lacking a positive cpu or memory."""
    value = f"c.?resources.?{section}.orValue({{}})[?k]"
    if section == "requests":  # a request left unset is the limit (see above)
        value += ".or(c.?resources.?limits.orValue({})[?k])"
    text = f"string({value}.orValue('')).trim()"
    return (
        f"variables.podContainers.map(c, ['cpu', 'memory'].filter(k, {text} == '' || {text} in ['0', '0m', "
        "'0.0'])"
        f".map(k, 'container \"' + c.name + '\" has no ' + k + ' {section[:-1]} (resources.{section}.' + k "
        "+ ')'))"
        ".flatten()"
    )


def workload_resource_requests(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        out = []
        for key, what in (("memoryReservation", "memory reservation"), ("cpuShares", "CPU shares")):
            value = res.props.get(key)
            if is_unknown(value):
                out.append(unknown_message(key))
            elif not _positive(value):
                out.append(f"no {what} ({key}) is set")
        return out
    return _k8s_resources(res, "requests") if _k8s.is_workload(res) else []


WORKLOAD_RESOURCE_REQUESTS = ResourceRule(
    name="workload-resource-requests",
    pack=Pack.RELIABILITY,
    description="Containers must request CPU and memory.",
    check=workload_resource_requests,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        full(
            "cis-docker:5.12",
            rationale="every declared container sets its CPU shares (and a memory reservation)",
        ),
        partial(
            "nist-800-53:SC-6",
            rationale="each container requests the CPU and memory it needs",
            missing="the allocation of resources by priority or quota at the cluster: not checked",
        ),
        partial(
            "iso-27001:A.8.6",
            rationale="capacity each workload needs is declared",
            missing="capacity monitoring and projection: not checked",
        ),
        partial(
            "soc2:A1.1",
            rationale="processing capacity is declared per workload",
            missing="monitoring and evaluation of capacity and demand: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=_cel_resources("requests"),
    ),
    evidence=EvidenceSelector(
        reads=(*ev.containers("resources.requests"), "$.cpuShares", "$.memoryReservation")
    ),
    remediation="Set `resources.requests.cpu` and `.memory`; on Docker set `cpu_shares` and "
    "`memory_reservation`.",
)


def workload_resource_limits(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        out = []
        memory = res.props.get("memory")
        if is_unknown(memory):
            out.append(unknown_message("memory"))
        elif not _positive(memory):
            out.append("no memory limit (memory) is set")
        cpus, quota = res.props.get("cpus"), res.props.get("cpuQuota")
        if is_unknown(cpus) or is_unknown(quota):
            out.append(unknown_message("cpus/cpuQuota"))
        elif not _positive(cpus) and not _positive(quota):
            out.append("no CPU limit (cpus or cpuQuota) is set")
        return out
    return _k8s_resources(res, "limits") if _k8s.is_workload(res) else []


WORKLOAD_RESOURCE_LIMITS = ResourceRule(
    name="workload-resource-limits",
    pack=Pack.RELIABILITY,
    description="Containers must have CPU and memory limits.",
    check=workload_resource_limits,
    applies_to=scope.POD_OR_CONTAINER,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        full("cis-docker:5.11", rationale="every declared container has a memory limit (and a CPU limit)"),
        partial(
            "nist-800-53:SC-6",
            rationale="no container can take more than its limit",
            missing="the allocation of resources by priority or quota at the cluster: not checked",
        ),
        partial(
            "nist-800-53:SC-5",
            rationale="one container's runaway load cannot starve the others",
            missing="protection against external denial-of-service (rate limits, upstream filtering): not "
            "checked",
        ),
        partial(
            "iso-27001:A.8.6",
            rationale="capacity per workload is bounded",
            missing="capacity monitoring and projection: not checked",
        ),
        partial(
            "soc2:A1.1",
            rationale="capacity per workload is bounded",
            missing="monitoring and evaluation of capacity and demand: not checked",
        ),
    ),
    admission=Cel(
        match=cel.WORKLOADS,
        violations=_cel_resources("limits"),
    ),
    evidence=EvidenceSelector(reads=(*ev.containers("resources.limits"), "$.memory", "$.cpus")),
    remediation="Set `resources.limits.cpu` and `.memory`; on Docker set `memory` and `cpus`.",
)


def workload_health_checks(res: Res, cfg: Config) -> list[str]:
    if is_job_like(res):
        return []
    if res.type == _docker.CONTAINER:
        hc = res.props.get("healthcheck")
        if is_unknown(hc):
            return [unknown_message("healthcheck")]
        tests = as_list(get(hc, "tests"))
        if not tests:
            return ["no healthcheck is defined"]
        if isinstance(tests[0], str) and tests[0].upper() == "NONE":
            return ['healthcheck is disabled (tests ["NONE"])']
        return []
    if res.type not in _k8s.LONG_RUNNING_TYPES:
        return []
    if is_unknown(_k8s.pod_spec(res)):
        return [unknown_message(_k8s.pod_spec_path(res), "the pod spec")]
    out = []
    for c in _k8s.containers(res, include_init=False):
        for probe in ("livenessProbe", "readinessProbe"):
            value = c.spec.get(probe)
            if is_unknown(value):
                out.append(unknown_message(f"{c.path}.{probe}"))
            elif not isinstance(value, dict) or not value:
                out.append(f'container "{c.name}" has no {probe}')
    return out


WORKLOAD_HEALTH_CHECKS = ResourceRule(
    name="workload-health-checks",
    pack=Pack.RELIABILITY,
    description="Long-running containers must have liveness and readiness checks.",
    check=workload_health_checks,
    applies_to=HEALTH_CHECKED,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        full("cis-docker:5.27", rationale="every long-running declared container has a health check"),
        partial(
            "nist-800-53:SI-4",
            rationale="workload health is probed",
            missing="system monitoring for attacks and unauthorised use: not checked",
        ),
        partial(
            "nist-800-53:CP-10",
            rationale="unhealthy workloads are detected so they can be restarted",
            missing="recovery procedures and their testing: not checked",
        ),
        partial(
            "iso-27001:A.8.16",
            rationale="workload health is monitored",
            missing="monitoring for anomalous behaviour and its evaluation: not checked",
        ),
        partial(
            "soc2:A1.2",
            rationale="failed workloads are detected",
            missing="backup and recovery infrastructure: not checked",
        ),
    ),
    admission=Cel(
        match=cel.LONG_RUNNING,
        violations=f"{cel.is_component(*_JOB_COMPONENTS)} ? [] : variables.appContainers.map(c, "
        "['livenessProbe', 'readinessProbe'].filter(p, !c[?p].hasValue() || size(c[p]) == 0)"
        ".map(p, 'container \"' + c.name + '\" has no ' + p)).flatten()",
    ),
    evidence=EvidenceSelector(
        reads=(
            *ev.containers("livenessProbe", "readinessProbe"),
            "$.healthcheck.tests",
            "$.healthcheck.interval",
        )
    ),
    remediation="Add `livenessProbe` and `readinessProbe` to every app container; on Docker add a "
    "`healthcheck`.",
)


def workload_restart_policy(res: Res, cfg: Config) -> list[str]:
    if res.type == _docker.CONTAINER:
        if is_job_like(res):
            return []
        restart = res.props.get("restart")
        if is_unknown(restart):
            return [unknown_message("restart")]
        if restart in ("always", "unless-stopped"):
            return []
        if restart == "on-failure":
            retries = as_int(res.props.get("maxRetryCount"))
            if retries is None or retries <= 0 or retries > 5:
                return ['restart "on-failure" needs maxRetryCount between 1 and 5']
            return []
        shown = "not set" if restart is None else f'"{restart}"'
        return [f"restart policy is {shown}; use unless-stopped, always or on-failure"]
    if res.type == "kubernetes:core/v1:Pod":
        return ["bare Pod is not managed by a controller and is not rescheduled when its node fails"]
    if res.type in _k8s.LONG_RUNNING_TYPES:
        policy = get(_k8s.pod_spec(res), "restartPolicy")
        if is_unknown(policy):
            return [unknown_message(f"{_k8s.pod_spec_path(res)}.restartPolicy")]
        if policy not in (None, "Always"):
            return [f'restartPolicy is "{policy}"; long-running workloads must restart Always']
    return []


WORKLOAD_RESTART_POLICY = ResourceRule(
    name="workload-restart-policy",
    pack=Pack.RELIABILITY,
    description="Workloads must be restarted automatically when they fail.",
    check=workload_restart_policy,
    applies_to=RESTARTED,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        partial(
            "cis-docker:5.15",
            rationale="declared containers restart on failure",
            missing="the control asks for `on-failure` with at most 5 retries; the rule also accepts "
            "`unless-stopped`",
        ),
        partial(
            "nist-800-53:CP-10",
            rationale="failed workloads are restarted automatically",
            missing="recovery procedures and their testing: not checked",
        ),
        partial(
            "iso-27001:A.8.14",
            rationale="failed workloads are restarted",
            missing="redundancy of processing facilities (replicas are workload-min-replicas'): not checked",
        ),
        partial(
            "soc2:A1.2",
            rationale="failed workloads are restarted",
            missing="backup and recovery infrastructure: not checked",
        ),
    ),
    admission=Cel(
        match=cel.LONG_RUNNING,
        violations="(request.kind.group == '' && request.kind.kind == 'Pod') ? "
        "['bare Pod is not managed by a controller and is not rescheduled when its node fails'] : "
        "(variables.podSpec.?restartPolicy.orValue('Always') != 'Always' ? "
        "['restartPolicy is \"' + variables.podSpec.restartPolicy + '\"; long-running workloads must "
        "restart Always']"
        " : [])",
    ),
    evidence=EvidenceSelector(reads=(*ev.pod("restartPolicy"), "$.restart", "$.maxRetryCount")),
    remediation="Run pods through a controller (Deployment/StatefulSet); on Docker set "
    '`restart="unless-stopped"` '
    "(or `on-failure` with `max_retry_count` <= 5).",
)


def _hpa_for(resources: list[Res]) -> dict[tuple[Any, str, Any], Res]:
    """HPAs keyed by (namespace, target kind, target name)."""
    out: dict[tuple[Any, str, Any], Res] = {}
    for res in resources:
        if res.type == _k8s.HPA:
            ref = get(res.props, "spec", "scaleTargetRef")
            kind, name = get(ref, "kind"), get(ref, "name")
            if isinstance(kind, str):
                out[(hkey(_k8s.namespace_of(res)), kind, hkey(name))] = res
    return out


def _min_replicas(res: Res, hpas: dict[tuple[Any, str, Any], Res]) -> Any:
    """The workload's guaranteed replica count: its HPA's minReplicas, else spec.replicas (default 1)."""
    hpa = hpas.get((hkey(_k8s.namespace_of(res)), res.kind, hkey(_k8s.name_of(res))))
    if hpa is not None:
        value = get(hpa.props, "spec", "minReplicas")
        return value if is_unknown(value) else (as_int(value) if value is not None else 1)
    value = get(res.props, "spec", "replicas")
    return value if is_unknown(value) else (as_int(value) if value is not None else 1)


def workload_min_replicas(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    minimum = as_int(cfg.get("minReplicas")) or 1
    components = [str(c) for c in as_list(cfg.get("components"))]
    hpas = _hpa_for(resources)
    out: list[tuple[str, str]] = []
    for res in resources:
        if res.type not in _k8s.REPLICATED_TYPES or not _common.is_component(res, *components):
            continue
        if _common.label(res, L.TRACK) == "canary":
            continue  # canaries are sized by their traffic weight, not by the tier minimum
        replicas = _min_replicas(res, hpas)
        if is_unknown(replicas):
            out.append((res.urn, f"{res.label}: " + unknown_message("replicas")))
        elif replicas is None or replicas < minimum:
            out.append(
                (res.urn, f"{res.label}: runs at least {replicas} replica(s); the tier minimum is {minimum}")
            )
    return out


WORKLOAD_MIN_REPLICAS = StackRule(
    name="workload-min-replicas",
    pack=Pack.GOVERNANCE,
    description="Serving workloads must run the tier's minimum number of replicas.",
    check=workload_min_replicas,
    applies_to=scope.MIN_REPLICAS,
    targets=K8S,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "nist-800-53:CP-10",
            rationale="serving runs enough replicas to survive a pod's loss",
            missing="recovery procedures and their testing: not checked",
        ),
        partial(
            "nist-800-53:SC-5",
            rationale="serving runs several replicas",
            missing="protection against denial-of-service attacks: not checked",
        ),
        partial(
            "iso-27001:A.8.14",
            rationale="serving is redundant within the cluster",
            missing="redundancy of the facilities (nodes, zones, regions): not checked",
        ),
        partial(
            "soc2:A1.2",
            rationale="serving is redundant",
            missing="backup and recovery infrastructure: not checked",
        ),
    ),
    admission=NotInCel(
        "a workload's guaranteed replicas are its HorizontalPodAutoscaler's minReplicas when one targets it: "
        "the rule reads both objects, and an admission policy sees one (no lookups)"
    ),
    evidence=EvidenceSelector(
        reads=("$.spec.replicas", "$.spec.minReplicas", *ev.label(L.TRACK)),
        subjects=ev.component(L.COMPONENT_MODEL_SERVER),
    ),
    schema={
        "minReplicas": {"type": "integer", "minimum": 1, "default": 3},
        "components": {**STRING_LIST, "default": [L.COMPONENT_MODEL_SERVER]},
    },
    knobs=per_tier(minReplicas=(1, 2, 3)),
    remediation="Raise `spec.replicas` (or the HPA's `minReplicas`) to at least `minReplicas`. Canary "
    "workloads are exempt: they are sized by traffic weight.",
)


def _pdb_allows_disruption(pdb: Res, replicas: int) -> bool | None:
    spec = as_dict(get(pdb.props, "spec"))
    for key in ("maxUnavailable", "minAvailable"):
        if is_unknown(spec.get(key)):
            return None
    max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
    # The disruption controller scales percentages rounding up (GetScaledValueFromIntOrPercent).
    if max_unavailable is not None:
        if isinstance(max_unavailable, str) and max_unavailable.endswith("%"):
            pct = as_int(max_unavailable[:-1])
            return pct is not None and pct > 0
        value = as_int(max_unavailable)
        return value is not None and value >= 1
    if min_available is not None:
        if isinstance(min_available, str) and min_available.endswith("%"):
            pct = as_int(min_available[:-1])
            return pct is not None and -(-replicas * pct // 100) < replicas
        value = as_int(min_available)
        return value is not None and value < replicas
    return True  # neither bound set: the budget constrains nothing


def workload_disruption_budget(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    hpas = _hpa_for(resources)
    pdbs = _k8s.SelectorIndex(
        [r for r in resources if r.type == _k8s.PDB], lambda p: get(p.props, "spec", "selector")
    )
    out: list[tuple[str, str]] = []
    for res in resources:
        if res.type not in _k8s.REPLICATED_TYPES:
            continue
        replicas = _min_replicas(res, hpas)
        if is_unknown(replicas):
            out.append((res.urn, f"{res.label}: " + unknown_message("replicas")))
            continue
        if replicas is None or replicas <= 1:
            continue
        labels = _k8s.pod_labels(res)
        ns = _k8s.namespace_of(res)
        matching = [
            p
            for p in pdbs.candidates(labels)
            if _k8s.namespace_of(p) == ns and _k8s.selector_matches(get(p.props, "spec", "selector"), labels)
        ]
        if not matching:
            out.append(
                (
                    res.urn,
                    f"{res.label}: runs {replicas} replicas but no PodDisruptionBudget selects its pods",
                )
            )
            continue
        verdicts = [_pdb_allows_disruption(p, replicas) for p in matching]
        if None in verdicts:
            out.append((res.urn, f"{res.label}: " + unknown_message("PodDisruptionBudget bounds")))
        elif not all(verdicts):
            names = ", ".join(
                f'"{_k8s.name_of(p)}"' for p, ok in zip(matching, verdicts, strict=True) if not ok
            )
            out.append(
                (
                    res.urn,
                    f"{res.label}: PodDisruptionBudget {names} allows no voluntary disruption of "
                    f"{replicas} replicas",
                )
            )
    return out


WORKLOAD_DISRUPTION_BUDGET = StackRule(
    name="workload-disruption-budget",
    pack=Pack.RELIABILITY,
    description="Multi-replica workloads must have a PodDisruptionBudget that still allows voluntary "
    "disruption.",
    check=workload_disruption_budget,
    applies_to=scope.REPLICATED,
    targets=K8S,
    severity=Severity.MEDIUM,
    mappings=(
        partial(
            "nist-800-53:CP-10",
            rationale="voluntary disruptions leave replicas running",
            missing="recovery procedures and their testing: not checked",
        ),
        partial(
            "iso-27001:A.8.14",
            rationale="maintenance cannot take every replica down at once",
            missing="redundancy of the facilities (nodes, zones, regions): not checked",
        ),
        partial(
            "soc2:A1.2",
            rationale="availability is kept through maintenance",
            missing="backup and recovery infrastructure: not checked",
        ),
    ),
    admission=NotInCel(
        "reads the PodDisruptionBudgets that select a workload's pods: another object than the one admitted"
    ),
    evidence=EvidenceSelector(reads=("$.spec.maxUnavailable", "$.spec.minAvailable", "$.spec.replicas")),
    remediation="Add a PodDisruptionBudget selecting the pod labels with `maxUnavailable: 1` (a budget "
    "allowing no disruption blocks node drains).",
)


def autoscaler_bounds_sane(res: Res, cfg: Config) -> list[str]:
    if res.type not in _k8s.HPA_TYPES:
        return []
    spec = res.props.get("spec")
    if is_unknown(spec):
        return [unknown_message("spec")]
    floor = as_int(cfg.get("minReplicas")) or 1
    ceiling = as_int(cfg.get("maxReplicas")) or 50
    raw_min, raw_max = get(spec, "minReplicas"), get(spec, "maxReplicas")
    if is_unknown(raw_min) or is_unknown(raw_max):
        return [unknown_message("spec.minReplicas/maxReplicas")]
    low = 1 if raw_min is None else as_int(raw_min)
    high = as_int(raw_max)
    out = []
    if low is None or low < floor:
        out.append(f"minReplicas {low if low is not None else raw_min} is below the tier minimum of {floor}")
    if high is None:
        out.append("maxReplicas is not set")
    else:
        if low is not None and high < low:
            out.append(f"maxReplicas {high} is below minReplicas {low}")
        if high > ceiling:
            out.append(f"maxReplicas {high} exceeds the ceiling of {ceiling}")
    metrics = get(spec, "metrics")
    if is_unknown(metrics):
        out.append(unknown_message("spec.metrics"))
    elif not as_list(metrics):
        out.append("no scaling metrics are defined")
    ref = get(spec, "scaleTargetRef")
    if not is_unknown(ref) and not (isinstance(get(ref, "kind"), str) and get(ref, "name")):
        out.append("scaleTargetRef does not name a workload")
    return out


def _cel_autoscaler_bounds(cfg: Config) -> str:
    """CEL of ``autoscaler_bounds_sane`` with the tier's floor and ceiling."""
    floor = as_int(cfg.get("minReplicas")) or 1
    ceiling = as_int(cfg.get("maxReplicas")) or 50
    low, high = "object.spec.?minReplicas.orValue(1)", "object.spec.maxReplicas"
    return (
        f"({low} < {floor} ? ['minReplicas ' + string({low}) + ' is below the tier minimum of {floor}'] : [])"
        f" + (!has(object.spec.maxReplicas) ? ['maxReplicas is not set'] : "
        f"(({high} < {low} ? ['maxReplicas ' + string({high}) + ' is below minReplicas ' + string({low})] : "
        "[])"
        f" + ({high} > {ceiling} ? ['maxReplicas ' + string({high}) + ' exceeds the ceiling of {ceiling}'] "
        ": [])))"
        " + (size(object.spec.?metrics.orValue([])) == 0 ? ['no scaling metrics are defined'] : [])"
        " + (object.spec.?scaleTargetRef.?kind.hasValue() && object.spec.?scaleTargetRef.?name.orValue('') "
        "!= ''"
        " ? [] : ['scaleTargetRef does not name a workload'])"
    )


AUTOSCALER_BOUNDS_SANE = ResourceRule(
    name="autoscaler-bounds-sane",
    pack=Pack.RELIABILITY,
    description="HorizontalPodAutoscaler bounds must be consistent with the tier.",
    check=autoscaler_bounds_sane,
    applies_to=scope.AUTOSCALERS,
    targets=K8S,
    severity=Severity.MEDIUM,
    mappings=(
        partial(
            "nist-800-53:SC-5",
            rationale="autoscaling is bounded and has a metric",
            missing="protection against denial-of-service attacks: not checked",
        ),
        partial(
            "nist-800-53:CP-2(2)",
            rationale="capacity for serving scales within planned bounds",
            missing="the capacity plan itself (projection of demand): not checked",
        ),
        partial(
            "iso-27001:A.8.6",
            rationale="capacity scales within bounds",
            missing="capacity monitoring and projection: not checked",
        ),
        partial(
            "soc2:A1.1",
            rationale="capacity scales within bounds",
            missing="monitoring and evaluation of capacity: not checked",
        ),
    ),
    admission=Cel(
        match=cel.AUTOSCALERS,
        violations=_cel_autoscaler_bounds,
    ),
    evidence=EvidenceSelector(
        reads=("$.spec.minReplicas", "$.spec.maxReplicas", "$.spec.scaleTargetRef.name")
    ),
    schema={
        "minReplicas": {"type": "integer", "minimum": 1, "default": 3},
        "maxReplicas": {"type": "integer", "minimum": 1, "default": 50},
    },
    knobs=per_tier(minReplicas=(1, 2, 3), maxReplicas=(5, 20, 50)),
    remediation="Set `minReplicas` >= the tier minimum, `maxReplicas` between `minReplicas` and the "
    "ceiling, and at least one metric.",
)


_STATEFUL_COMPONENTS = (L.COMPONENT_METADATA_DATABASE, L.COMPONENT_OBJECT_STORE)


def storage_protected(res: Res, cfg: Config) -> list[str]:
    if cfg.get("requireProtect") is False:
        return []
    stateful = res.type in (_k8s.PVC, _docker.VOLUME) or (
        res.type in (_k8s.STATEFUL_SET, _k8s.DEPLOYMENT, _docker.CONTAINER)
        and _common.is_component(res, *_STATEFUL_COMPONENTS)
    )
    if not stateful or res.protect:
        return []
    return [
        "stateful resource is not protected (protect=True); a replacement or destroy would delete its data"
    ]


STORAGE_PROTECTED = ResourceRule(
    name="storage-protected",
    pack=Pack.RELIABILITY,
    description="Stateful resources must be protected from deletion where the tier requires it.",
    check=storage_protected,
    applies_to=scope.STATEFUL,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "nist-800-53:CP-9",
            rationale="stateful resources cannot be deleted by a deployment",
            missing="backups themselves are database-backups-scheduled's; their testing is not checked",
        ),
        partial(
            "nist-800-53:CM-3",
            rationale="deleting stored data needs an explicit change to the program",
            missing="the change-control process (review, approval, records): not checked",
        ),
        partial(
            "iso-27001:A.8.13",
            rationale="stored data survives a stack change",
            missing="backup copies and their testing: not checked",
        ),
        partial(
            "soc2:A1.2",
            rationale="stored data survives a stack change",
            missing="backup copies and their testing: not checked",
        ),
    ),
    admission=NotInCel(
        "reads Pulumi's protect option, which is state of the Pulumi stack and never reaches the cluster"
    ),
    evidence=EvidenceSelector(reads=("option:protect", "option:retain_on_delete")),
    schema={"requireProtect": {"type": "boolean", "default": True}},
    knobs=per_tier(requireProtect=(False, False, True)),
    remediation="Create databases, object stores, PVCs and volumes with `ResourceOptions(protect=True)` "
    "(and `retain_on_delete=True`).",
)


def _valid_cron(expr: Any) -> bool:
    if not isinstance(expr, str):
        return False
    if expr.strip().startswith("@"):
        return expr.strip() in (
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        )
    fields = expr.split()
    return len(fields) == 5 and all(_CRON_FIELD_RE.match(f) for f in fields)


def _retention_problems(value: Any, minimum: int, where: str) -> list[str]:
    if is_unknown(value):
        return [unknown_message(where)]
    days = as_int(value)
    if days is None:
        return [
            f"{where} is missing or not a number of days ({value!r})"
            if value is not None
            else f"{where} is not set"
        ]
    if days < minimum:
        return [f"backup retention of {days} day(s) is below the minimum of {minimum}"]
    return []


_DATABASE_TYPES = frozenset({_docker.CONTAINER, _k8s.STATEFUL_SET, _k8s.DEPLOYMENT})  # what can run it


def database_backups_scheduled(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    minimum = as_int(cfg.get("minRetentionDays")) or 1
    jobs = [
        r
        for r in resources
        if r.type == _k8s.CRON_JOB and _common.is_component(r, L.COMPONENT_DATABASE_BACKUP)
    ]
    out: list[tuple[str, str]] = []
    for res in resources:
        if res.type not in _DATABASE_TYPES or not _common.is_component(res, L.COMPONENT_METADATA_DATABASE):
            continue
        if res.type == _docker.CONTAINER:
            labels = _common.object_labels(res)
            if is_unknown(labels):
                out.append((res.urn, f"{res.label}: " + unknown_message("labels")))
                continue
            labels = as_dict(labels)
            schedule = labels.get(L.BACKUP_SCHEDULE)
            if schedule is None:
                out.append((res.urn, f'{res.label}: no backups are scheduled (label "{L.BACKUP_SCHEDULE}")'))
                continue
            problems = (
                []
                if is_unknown(schedule) or _valid_cron(schedule)
                else [f'backup schedule "{schedule}" is not a valid cron expression']
            )
            problems += _retention_problems(
                labels.get(L.BACKUP_RETENTION_DAYS), minimum, f'label "{L.BACKUP_RETENTION_DAYS}"'
            )
            out += [(res.urn, f"{res.label}: {p}") for p in problems]
            continue
        if res.type not in (_k8s.STATEFUL_SET, _k8s.DEPLOYMENT):
            continue
        name, ns = _k8s.name_of(res), _k8s.namespace_of(res)
        if is_unknown(name):
            out.append((res.urn, f"{res.label}: " + unknown_message("metadata.name", "backup coverage")))
            continue
        mine = [j for j in jobs if _common.label(j, L.BACKUP_OF) == name and _k8s.namespace_of(j) == ns]
        if not mine:
            out.append(
                (res.urn, f'{res.label}: no backup CronJob (label {L.BACKUP_OF}="{name}") is scheduled')
            )
            continue
        job = mine[0]
        annotations = as_dict(_k8s.object_annotations(job))
        schedule = get(job.props, "spec", "schedule")
        problems = []
        if is_unknown(schedule):
            problems.append(unknown_message("spec.schedule"))
        elif not _valid_cron(schedule):
            problems.append(f'backup schedule "{schedule}" is not a valid cron expression')
        if truthy(get(job.props, "spec", "suspend")):
            problems.append(f'backup CronJob "{_k8s.name_of(job)}" is suspended')
        problems += _retention_problems(
            annotations.get(L.BACKUP_RETENTION_DAYS), minimum, f'annotation "{L.BACKUP_RETENTION_DAYS}"'
        )
        out += [(res.urn, f"{res.label}: {p}") for p in problems]
    return out


DATABASE_BACKUPS_SCHEDULED = StackRule(
    name="database-backups-scheduled",
    pack=Pack.GOVERNANCE,
    description="Metadata databases must have scheduled backups with enough retention.",
    check=database_backups_scheduled,
    applies_to=scope.DATABASES,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "nist-800-53:CP-9",
            rationale="the metadata database has a scheduled backup with enough retention",
            missing="that backups run, are stored apart, and restore (testing): not checked; object-store "
            "data is object-store-versioning's",
        ),
        partial(
            "iso-27001:A.8.13",
            rationale="the metadata database has a scheduled backup with enough retention",
            missing="that backups run and restore (testing), off-site copies: not checked",
        ),
        partial(
            "soc2:A1.2",
            rationale="the metadata database is backed up on schedule",
            missing="that backups run and restore (testing): not checked",
        ),
    ),
    admission=NotInCel(
        "a database is backed up by a CronJob that names it: the rule reads the database with the backup "
        "CronJobs of the stack, and an admission policy sees one object (no lookups)"
    ),
    evidence=EvidenceSelector(
        reads=(
            "$.spec.schedule",
            *ev.label(L.BACKUP_OF, L.BACKUP_SCHEDULE, L.BACKUP_RETENTION_DAYS),
        ),
        subjects=ev.label(L.BACKUP_OF, L.BACKUP_SCHEDULE, L.BACKUP_RETENTION_DAYS),
    ),
    schema={"minRetentionDays": {"type": "integer", "minimum": 1, "default": 30}},
    knobs=per_tier(minRetentionDays=(1, 7, 30)),
    remediation="Enable `storage.database.backup` in the environment spec: a backup CronJob labelled "
    f"`{L.BACKUP_OF}` "
    f"(Docker: `{L.BACKUP_SCHEDULE}`/`{L.BACKUP_RETENTION_DAYS}` labels) with retention >= "
    "`minRetentionDays`.",
)


def _object_store_flag(res: Res, key: str, what: str) -> list[str]:
    if not _common.is_component(res, L.COMPONENT_OBJECT_STORE):
        return []
    if res.type not in (_k8s.STATEFUL_SET, _k8s.DEPLOYMENT, _docker.CONTAINER):
        return []
    value = _common.annotation(res, key)
    if is_unknown(value):
        return [unknown_message(key)]
    if value != "enabled":
        shown = "not declared" if value is None else f'"{value}"'
        return [f'{what} is {shown} ({key}); it must be "enabled"']
    return []


def _cel_object_store_flag(key: str, what: str) -> str:
    """CEL of ``_object_store_flag``."""
    value = cel.opt_annotation(key)
    return (
        f"{cel.is_component(L.COMPONENT_OBJECT_STORE)} && {value}.orValue('') != 'enabled' ? "
        f"[{cel.lit(what + ' is ')} + ({value}.hasValue() ? '\"' + {value}.value() + '\"' : 'not declared') "
        "+ "
        f"{cel.lit(f' ({key}); it must be ' + chr(34) + 'enabled' + chr(34))}] : []"
    )


def object_store_versioning(res: Res, cfg: Config) -> list[str]:
    return _object_store_flag(res, L.BUCKET_VERSIONING, "bucket versioning")


OBJECT_STORE_VERSIONING = ResourceRule(
    name="object-store-versioning",
    pack=Pack.GOVERNANCE,
    description="The object store must keep object versions.",
    check=object_store_versioning,
    applies_to=scope.OBJECT_STORES,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        partial(
            "nist-800-53:CP-9",
            rationale="every bucket keeps object versions",
            missing="versions live in the same store: not a backup apart; restore testing not checked",
        ),
        partial(
            "iso-27001:A.8.13",
            rationale="overwritten artefacts can be recovered",
            missing="backup copies apart and their testing: not checked",
        ),
        partial(
            "soc2:A1.2",
            rationale="overwritten artefacts can be recovered",
            missing="backup copies apart and their testing: not checked",
        ),
    ),
    admission=Cel(
        match=cel.DEPLOYMENTS_AND_STATEFUL_SETS,
        violations=_cel_object_store_flag(L.BUCKET_VERSIONING, "bucket versioning"),
    ),
    evidence=EvidenceSelector(reads=ev.label(L.BUCKET_VERSIONING)),
    remediation="Enable versioning on every bucket (`storage.object_store.buckets[].versioning: true`).",
)


def object_store_encryption(res: Res, cfg: Config) -> list[str]:
    return _object_store_flag(res, L.ENCRYPTION_AT_REST, "encryption at rest")


OBJECT_STORE_ENCRYPTION = ResourceRule(
    name="object-store-encryption",
    pack=Pack.GOVERNANCE,
    description="The object store must encrypt data at rest.",
    check=object_store_encryption,
    applies_to=scope.OBJECT_STORES,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "nist-800-53:SC-28",
            rationale="the object store encrypts data at rest",
            missing="the metadata database and volumes are not checked; nor key management",
        ),
        partial(
            "iso-27001:A.8.24",
            rationale="encryption at rest is configured for the object store",
            missing="rules for cryptography and key management: not checked",
        ),
        partial(
            "soc2:CC6.1",
            rationale="stored artefacts are encrypted",
            missing="CC6.1 also covers identity, authentication and access management: not checked",
        ),
    ),
    admission=Cel(
        match=cel.DEPLOYMENTS_AND_STATEFUL_SETS,
        violations=_cel_object_store_flag(L.ENCRYPTION_AT_REST, "encryption at rest"),
    ),
    evidence=EvidenceSelector(reads=ev.label(L.ENCRYPTION_AT_REST)),
    remediation="Enable server-side encryption (`storage.object_store.encryption: true`, MinIO KMS/KES).",
)
