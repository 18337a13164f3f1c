"""The node's own two images, made from Debian's static busybox: the pod sandbox and a helper.

``mlops.local/pause:1`` holds every pod's namespaces (the role of ``registry.k8s.io/pause``, which
cannot be pulled here); ``mlops.local/busybox:1`` runs the volume provisioner's helper pods and the
tests' probes. Both are OCI image archives made with ``umoci`` (Debian), keyed by busybox's package
version and cached through ``build_cache``, then imported into the node's containerd.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from mlops_platform.tools import build_cache
from mlops_platform.tools.node.configs import PAUSE_IMAGE

Progress = Callable[[str], None]
BUSYBOX = "mlops.local/busybox:1"
BUSYBOX_BINARY = Path("/bin/busybox")  # Debian's busybox-static
TAG = "1"
NOBODY = "65534:65534"
# PID 1 of the sandbox: sleeps until told to stop (busybox's sleep takes no "infinity").
PAUSE_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise build_cache.BuildCacheError(f"{' '.join(command)}: {(done.stderr or done.stdout).strip()}")


def _busybox_version() -> str:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "busybox-static"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not BUSYBOX_BINARY.is_file():
        raise build_cache.BuildCacheError(
            "Debian's busybox-static is not installed: `apt-get install busybox-static` (tests/run.sh does)"
        )
    return done.stdout.strip()


def _archive(work: Path, name: str, entrypoint: list[str]) -> None:
    layout, bundle = work / "layout", work / "bundle"
    image = f"{layout}:{TAG}"
    _run(["umoci", "init", "--layout", str(layout)])
    _run(["umoci", "new", "--image", image])
    _run(["umoci", "unpack", "--image", image, str(bundle)])
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)  # mkdir's mode passes through the umask
    shutil.copy2(BUSYBOX_BINARY, rootfs / "bin" / "busybox")
    _run([str(rootfs / "bin" / "busybox"), "--install", "-s", str(rootfs / "bin")])
    for link in (rootfs / "bin").iterdir():  # --install writes absolute links: /bin/busybox inside
        if link.is_symlink():
            link.unlink()
            link.symlink_to("busybox")
    _run(["umoci", "repack", "--image", image, str(bundle)])
    config = ["umoci", "config", "--image", image, "--config.user", NOBODY, "--config.workingdir", "/"]
    config += [f"--config.entrypoint={part}" for part in entrypoint]
    _run([*config, "--clear=config.cmd", f"--author=mlops-platform node ({name})"])
    _run(["umoci", "gc", "--layout", str(layout)])
    shutil.rmtree(bundle)
    _run(["tar", "-C", str(layout), "-cf", str(work / "image.tar"), "."])
    shutil.rmtree(layout)


def node_images(progress: Progress = print) -> list[tuple[Path, str]]:
    """The node's image archives (built once) with the base name each is imported under."""
    version = _busybox_version()
    made = []
    for name, ref, entrypoint in (
        ("pause", PAUSE_IMAGE, ["/bin/sh", "-c", PAUSE_SCRIPT]),
        ("busybox", BUSYBOX, ["/bin/sh"]),
    ):
        key = build_cache.cache_key({"busybox": version, "entrypoint": entrypoint, "layout": 2})

        def build(work: Path, name: str = name, entrypoint: list[str] = entrypoint) -> dict[str, str]:
            started = time.monotonic()
            _archive(work, name, entrypoint)
            elapsed = time.monotonic() - started
            progress(f"node: {name} image built from busybox-static {version} ... {elapsed:.1f} s")
            return {"busybox": version}

        entry = build_cache.ensure(
            build_cache.cache_home() / "node-images", name, key, build, list_files=True, progress=progress
        )
        made.append((entry.path / "image.tar", ref.rsplit(":", 1)[0]))
    return made
