#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, then run it.
# README's test command and CI's (.ci/run) are this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real: the validators promtool, amtool and a headless browser;
# the Pushgateway the drift job pushes to (tests/runtime); what builds, runs and serves the
# platform's images (tests/images); the local node's container runtime (containerd, runc), pod
# network (CNI plugins, iptables, conntrack) and its own images' parts (busybox-static).
missing=()
need() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing+=("$1"); }
for package in prometheus prometheus-alertmanager chromium prometheus-pushgateway \
  mmdebstrap umoci skopeo runc docker-registry \
  containerd containernetworking-plugins iptables conntrack busybox-static; do
  need "$package"
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  # Another apt run (a second checkout's tests, unattended upgrades) may hold the lock: wait for it.
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

# The real engine toolchain (Pulumi CLI, kubernetes provider, kube-apiserver, etcd, CRD files) and
# the local node (kubelet, kube-scheduler, kube-proxy, CoreDNS, metrics-server, local-path-provisioner,
# Prometheus Operator), built from the Go module proxy into ~/.cache/mlops-platform/toolchain (MLOPS_TOOLCHAIN_CACHE),
# and the platform's images (Debian bookworm base, Go binaries, MLflow and the platform's Python),
# built into ~/.cache/mlops-platform/images ($MLOPS_IMAGES_CACHE). Needs Go >= 1.26 on PATH.
# One after the other from empty caches on 2 near-idle cores (2026-12-07): toolchain 30.2 min (CLI
# 5.8, provider 8.8, apiserver 8.0, node parts 7.6), images 16.5 min, ~25 GB of caches. They run side
# by side: the images' downloads, package installs and layer compression (one core) fill what the Go
# builds leave idle; both share Go's module and build caches, which are safe for concurrent use.
# Side by side, measured the same way: 38.4 min from a fresh clone to the first test. End to end once
# (2026-12-07, empty HOME): 43.2 min to the first test, then the tests; at most 88 min in all, with
# ~24 GB of caches (a full disk there fails the test venvs' installs, each with its reason).
# Warm: a file check each, well under a second. Keep the caches between CI runs.
.venv/bin/mlops toolchain install &
toolchain=$!
.venv/bin/python -m mlops_platform.tools.images build &
images=$!
built=0
wait "$toolchain" || built=$?
wait "$images" || built=$?
if ((built)); then exit "$built"; fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# loadgroup: the API-server tests share one control plane, in one worker, in file order.
.venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
