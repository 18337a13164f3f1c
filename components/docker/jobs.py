"""Scheduled container jobs on Docker, which has no CronJob: a long-running hardened container whose
``sh`` runner (``templates/cron_runner.sh.j2``) starts the job's command on its cron schedule (UTC).

The runner is passed inline (``sh -c <runner> cron-runner <command...>``), not uploaded, so the
container keeps its read-only root filesystem. It touches ``/tmp/heartbeat`` every minute; the
healthcheck fails when that is older than three minutes, so a stuck scheduler shows as unhealthy.
The image needs ``/bin/sh`` and ``date``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from mlops_platform.components.args import ComputeResources
from mlops_platform.components.docker._common import ContainerSpec, hardened_container, healthcheck
from mlops_platform.components.rendering import render_cron_runner

HEARTBEAT_MAX_AGE_S = 180  # three missed minutes


def heartbeat_check() -> list[str]:
    return ["CMD-SHELL", f"test $(( $(date -u +%s) - $(cat /tmp/heartbeat) )) -lt {HEARTBEAT_MAX_AGE_S}"]


def scheduled_job(
    resource_name: str,
    *,
    container_name: pulumi.Input[str],
    schedule: str,
    command: Sequence[str],
    image: pulumi.Input[str],
    network: pulumi.Input[str],
    hostname: str,
    labels: Mapping[str, str],
    user: str,
    opts: pulumi.ResourceOptions,
    envs: Sequence[pulumi.Input[str]] = (),
    volumes: Mapping[str, pulumi.Input[str]] | None = None,
    resources: ComputeResources | None = None,
) -> pulumi.Resource:
    """A container running ``command`` on ``schedule`` (five-field cron, UTC)."""
    return hardened_container(
        resource_name,
        container_name,
        ContainerSpec(
            image=image,
            network=network,
            hostname=hostname,
            labels=labels,
            resources=resources or ComputeResources(),
            user=user,
            entrypoint=["/bin/sh", "-c", render_cron_runner(schedule), "cron-runner"],
            command=list(command),
            envs=envs,
            health=healthcheck(heartbeat_check(), start_period="90s"),
            volumes=dict(volumes or {}),
        ),
        opts,
    )
