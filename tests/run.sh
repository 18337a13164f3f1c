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
# the local node (kubelet, kube-scheduler, kube-proxy, CoreDNS, local-path-provisioner, Prometheus
# Operator), built from the Go module proxy into ~/.cache/mlops-platform/toolchain (MLOPS_TOOLCHAIN_CACHE).
# Needs Go >= 1.26 on PATH. Cold on 2 busy cores: about 40 min (CLI 5, provider 16, apiserver and
# controller manager 18) and ~12 GB of caches (modules 3.0 GB, build 9.2 GB; binaries 540 MB);
# warm: a file check well under a second. Keep the cache between CI runs.
.venv/bin/mlops toolchain install

# The platform's images (Debian bookworm base, Go binaries, MLflow and the platform's Python), built
# into ~/.cache/mlops-platform/images ($MLOPS_IMAGES_CACHE); warm: a file check per image.
.venv/bin/python -m mlops_platform.tools.images build

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# loadgroup: the API-server tests share one control plane, in one worker, in file order.
.venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
