"""The namespaces a local node lives in, so that stopping it leaves nothing behind on the machine.

Every process of a node cluster (control plane, kubelet, containerd and its shims, the pods) runs
inside one network namespace and one mount namespace made for it, under one cgroup subtree:

- **network**: ``ip netns add mlops-<id>`` with a veth pair to the host (``10.213.<n>.1`` host side,
  ``10.213.<n>.2`` the node's address). The node has no default route: pods reach each other, the
  node and its Services, and nothing beyond this machine. The host gets routes to the Service and
  pod ranges through the veth, so people and tests can open MLflow or Prometheus. The bridge, the
  pods' interfaces and every iptables rule kube-proxy writes live in the namespace and go with it.
- **mount**: a holder process (``unshare --mount --propagation slave``) mounts private tmpfs over
  the paths the kubelet, containerd and the CNI plugins write to by fixed names (``/run``,
  ``/var/lib/kubelet``, ``/var/lib/cni``, ``/var/log/pods``, ``/var/log/containers``, and the
  volume provisioner's ``/tmp/hostpath_pv``); every daemon enters that namespace, so container
  root filesystems, projected volumes and the pods' network namespace files vanish with it.
- **cgroups** (v1 here): ``/mlops-<id>`` in every hierarchy is the kubelet's ``cgroupRoot``;
  daemons start in ``/mlops-<id>/node``. Stopping freezes the subtree, kills every process in it
  (containerd's shims and the containers' PID 1, which ignores SIGTERM, included), and removes the
  cgroups bottom-up.

The host keeps only what cannot be scoped: kernel modules already loaded, and the empty mount points
created for the tmpfs mounts, which are removed again when this module created them.

One node runs on a machine at a time (its routes to the Service and pod ranges are the machine's):
``make`` takes a machine-wide lock (``/run/lock``, whatever the user's HOME) and, holding it, first
reclaims what a node ended without ``stop`` left (a SIGKILLed test run, a lost terminal): each node
writes a record of what it made beside the lock, and a record whose node holds no lock is stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
NETNS_DIR = Path("/run/netns")
SYS_NET = Path("/sys/class/net")
HOST_IF_SUFFIX = "-h"
ADDRESS_PREFIX = "10.213"  # 10.213.<n>.0/30 per node: host .1, node .2; only inside namespaces we made
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/24"
PRIVATE_MOUNTS = (
    "/run",
    "/var/lib/kubelet",
    "/var/lib/cni",
    "/var/log/pods",
    "/var/log/containers",
    "/tmp/hostpath_pv",  # the volume provisioner's directories (node.cluster.LOCAL_PATH_DIR)
)
LOCK_DIR = Path("/run/lock")
NODE_LOCK = LOCK_DIR / "mlops-platform-node.lock"
RECORDS = LOCK_DIR / "mlops-platform-nodes"
"""One JSON record per node that has not stopped: what ``make`` created, for ``reclaim_stale``."""
NAME = re.compile(r"mlops-[0-9a-f]{6}")
TERM_WAIT_S = 10.0
KILL_WAIT_S = 15.0
LOCK_WAIT_S = 1800.0
"""How long a node waits for another one on this machine to stop: two cannot route the same Service
and pod ranges (another checkout's tests, a cluster someone started by hand)."""

Progress = Callable[[str], None]


class SandboxError(RuntimeError):
    """The node's namespaces could not be made (the message says which step and why)."""


def _run(command: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(command), capture_output=True, text=True, check=False, timeout=60)
    if check and done.returncode != 0:
        raise SandboxError(f"{shlex.join(command)}: {(done.stderr or done.stdout).strip()}")
    return done


def cgroup_hierarchies() -> list[Path]:
    """The mounted cgroup hierarchies (v1 controllers, named ones and the v2 ``unified``)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        separator = fields.index("-")
        fstype, mount_point = fields[separator + 1], Path(fields[4])
        if fstype in ("cgroup", "cgroup2") and mount_point.is_relative_to(CGROUP_ROOT):
            found.append(mount_point)
    return sorted(set(found))


def _free_subnet() -> int:
    used = _run(["ip", "-o", "-4", "addr", "show"]).stdout
    for n in range(256):
        if f" {ADDRESS_PREFIX}.{n}." not in used:
            return n
    raise SandboxError(f"every {ADDRESS_PREFIX}.<n>.0/30 is in use: stop other local nodes first")


@dataclass
class Sandbox:
    """The namespaces and cgroups of one node cluster; ``stop()`` undoes everything ``make`` did."""

    name: str
    host_address: str
    node_address: str
    holder: subprocess.Popen[bytes] | None = None
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    made_dirs: list[Path] = field(default_factory=list)
    cgroups: list[Path] = field(default_factory=list)
    made_netns_dir: bool = False
    """Whether ``ip netns add`` created ``/run/netns`` (it also bind-mounts it onto itself)."""
    lock: Any = None
    """The open machine-wide node lock (``_node_lock``), released by ``stop``."""

    @property
    def freezer(self) -> Path:
        return CGROUP_ROOT / "freezer" / self.name

    @property
    def cgroup_root(self) -> str:
        """The kubelet's ``cgroupRoot``."""
        return f"/{self.name}"

    def enter(self) -> list[str]:
        """The argv prefix that runs a command inside the node's network and mount namespaces."""
        assert self.holder is not None
        return ["nsenter", f"--target={self.holder.pid}", "--mount", "--net", "--"]

    def spawn(self, name: str, command: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        """Start ``command`` inside the namespaces, in the ``node`` cgroup, output to ``log``."""
        procs = self.freezer / "node" / "cgroup.procs"
        # The shell joins the cgroup before it becomes the daemon, so no child can escape it.
        script = f"echo $$ > {shlex.quote(str(procs))} && exec {shlex.join([*self.enter(), *command])}"
        with log.open("ab") as out:
            process = subprocess.Popen(
                ["/bin/sh", "-c", script], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append((name, process))
        return process

    def run(self, command: Sequence[str], *, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a short command inside the namespaces and return its result (not checked)."""
        return subprocess.run(
            [*self.enter(), *command], capture_output=True, text=True, check=False, timeout=timeout_s
        )

    # -- making --------------------------------------------------------------------------------

    @classmethod
    def make(cls, progress: Progress = print) -> Sandbox:
        """Create the namespaces, the veth pair, the host routes and the cgroup subtree."""
        lock = _node_lock(progress)
        try:
            reclaim_stale(progress)
            n = _free_subnet()
        except BaseException:
            lock.close()
            raise
        name = f"mlops-{secrets.token_hex(3)}"
        sandbox = cls(name, f"{ADDRESS_PREFIX}.{n}.1", f"{ADDRESS_PREFIX}.{n}.2", lock=lock)
        try:
            sandbox._record()
            sandbox._make_network()
            sandbox._record()
            sandbox._make_cgroups()
            sandbox._make_holder()
            sandbox._record()
        except BaseException:
            sandbox.stop()
            raise
        return sandbox

    def _record(self) -> None:
        """Write what was made so far (``RECORDS/<name>.json``), for a later ``reclaim_stale``."""
        RECORDS.mkdir(parents=True, exist_ok=True)
        record = {
            "owner": [os.getpid(), _start_time(os.getpid())],
            "made_dirs": [str(p) for p in self.made_dirs],
            "made_netns_dir": self.made_netns_dir,
            "cgroups": [str(p) for p in self.cgroups],
        }
        temporary = RECORDS / f".{self.name}.json.tmp"
        temporary.write_text(json.dumps(record), encoding="utf-8")
        temporary.replace(RECORDS / f"{self.name}.json")

    @property
    def host_if(self) -> str:
        """The host's end of the node's veth pair."""
        return f"{self.name}{HOST_IF_SUFFIX}"[:15]

    def _make_network(self) -> None:
        host_if, node_if = self.host_if, f"{self.name}-n"[:15]
        self.made_netns_dir = not NETNS_DIR.exists()
        _run(["ip", "netns", "add", self.name])
        _run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", node_if])
        _run(["ip", "link", "set", node_if, "netns", self.name])
        _run(["ip", "addr", "add", f"{self.host_address}/30", "dev", host_if])
        _run(["ip", "link", "set", host_if, "up"])
        inside = ["ip", "netns", "exec", self.name]
        _run([*inside, "ip", "addr", "add", f"{self.node_address}/30", "dev", node_if])
        _run([*inside, "ip", "link", "set", node_if, "up"])
        _run([*inside, "ip", "link", "set", "lo", "up"])
        # Forwarding inside the node's namespace only (pods <-> Services <-> the node).
        _run([*inside, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        for cidr in (SERVICE_CIDR, POD_CIDR):
            _run(["ip", "route", "add", cidr, "via", self.node_address, "dev", host_if])

    def _make_cgroups(self) -> None:
        for hierarchy in cgroup_hierarchies():
            for path in (hierarchy / self.name, hierarchy / self.name / "node"):
                path.mkdir()
                self.cgroups.append(path)
        cpuset = CGROUP_ROOT / "cpuset"
        if (cpuset / self.name).is_dir():  # v1 cpuset: a child is unusable until it has cpus and mems
            for child in (cpuset / self.name, cpuset / self.name / "node"):
                for key in ("cpuset.cpus", "cpuset.mems"):
                    value = (child.parent / key).read_text(encoding="utf-8").strip()
                    (child / key).write_text(value, encoding="utf-8")

    def _make_holder(self) -> None:
        mounts = []
        for path in PRIVATE_MOUNTS:
            target = Path(path)
            if not target.exists():
                target.mkdir(parents=True)
                self.made_dirs.append(target)
            mounts.append(f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(path)}")
        body = " && ".join([*mounts, "exec sleep infinity"])
        procs = self.freezer / "node" / "cgroup.procs"
        script = (
            f"echo $$ > {shlex.quote(str(procs))} && exec nsenter --net=/run/netns/{self.name} -- "
            f"unshare --mount --propagation slave -- /bin/sh -c {shlex.quote(body)}"
        )
        self.holder = subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.holder.poll() is not None:
                raise SandboxError(f"the mount namespace holder exited with {self.holder.returncode}")
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{self.holder.pid}/exe").endswith("/sleep"):
                    return
            time.sleep(0.05)
        raise SandboxError("the mount namespace holder did not start within 10 s")

    # -- stopping ------------------------------------------------------------------------------

    def _pids(self) -> list[int]:
        pids: list[int] = []
        if not self.freezer.is_dir():
            return pids
        for procs in self.freezer.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                pids.extend(int(line) for line in procs.read_text(encoding="utf-8").split())
        return pids

    def stop(self) -> None:
        """End every process, then remove the cgroups, the namespaces and what ``make`` created."""
        for _, process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + TERM_WAIT_S
        for _, process in reversed(self.processes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        self._kill_everything()
        for _, process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)
        if self.holder is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.holder.wait(timeout=5)
        for path in sorted(self.cgroups, key=lambda p: len(p.parts), reverse=True):
            self._remove_cgroup_tree(path)
        # Deleting the host's end removes the pair and the host routes through it at once. Deleting the
        # namespace alone does not while anything still holds it: the kernel keeps a namespace whose
        # orphaned TCP sockets (connections of the node's processes, closed by the kill) still
        # retransmit, for minutes, and with it the veth pair, the routes and so the next node's subnet.
        if (SYS_NET / self.host_if).exists():
            _run(["ip", "link", "del", self.host_if], check=False)
        _run(["ip", "netns", "del", self.name], check=False)
        if self.made_netns_dir and NETNS_DIR.is_dir() and not any(NETNS_DIR.iterdir()):
            _run(["umount", str(NETNS_DIR)], check=False)
            with contextlib.suppress(OSError):
                NETNS_DIR.rmdir()
        for path in reversed(self.made_dirs):
            with contextlib.suppress(OSError):
                path.rmdir()
        (RECORDS / f"{self.name}.json").unlink(missing_ok=True)
        if self.lock is not None:
            self.lock.close()  # closing the file releases the lock
            self.lock = None

    def _kill_everything(self) -> None:
        state = self.freezer / "freezer.state"
        deadline = time.monotonic() + KILL_WAIT_S
        killed: set[int] = set()
        while time.monotonic() < deadline:
            pids = self._pids()
            if not pids:
                self._wait_reaped(killed, deadline)
                return
            killed.update(pids)
            # Frozen, nothing can fork while the list is being killed; SIGKILL reaches frozen tasks.
            with contextlib.suppress(OSError):
                state.write_text("FROZEN", encoding="utf-8")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                state.write_text("THAWED", encoding="utf-8")
            time.sleep(0.2)
        raise SandboxError(f"processes of {self.name} survived SIGKILL: {self._pids()}")

    def _wait_reaped(self, pids: set[int], deadline: float) -> None:
        """Wait until the killed processes are gone from the process table, not only from their
        cgroups: an orphan (containerd's shim) leaves its cgroup at death but stays a zombie until
        PID 1 reaps it; the processes started here are reaped here."""
        own = [process for _, process in self.processes] + ([self.holder] if self.holder else [])
        while time.monotonic() < deadline:
            for process in own:
                process.poll()
            if not any(Path(f"/proc/{pid}").exists() for pid in pids):
                return
            time.sleep(0.1)

    @staticmethod
    def _remove_cgroup_tree(top: Path) -> None:
        if not top.is_dir():
            return
        children = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for path in [*children, top]:
            for _ in range(50):  # a cgroup whose last task just died may stay busy for a moment
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def reclaim_stale(progress: Progress = print) -> list[str]:
    """Stop what nodes ended without ``stop`` left on this machine; the names of those reclaimed.

    Only while holding the node lock (``make``): no live node can then exist. A node is found by
    its record, its network namespace or its cgroups (``mlops-<6 hex>``); its processes are killed
    through its freezer cgroup, then its cgroups, namespace, routes and the mount points its record
    says it created are removed, as its own ``stop`` would have.
    """
    names = {p.stem for p in RECORDS.glob("*.json")} if RECORDS.is_dir() else set()
    if NETNS_DIR.is_dir():
        names |= {p.name for p in NETNS_DIR.iterdir()}
    names |= {p.name.removesuffix(HOST_IF_SUFFIX) for p in SYS_NET.glob(f"*{HOST_IF_SUFFIX}")}
    for hierarchy in cgroup_hierarchies():
        names |= {p.name for p in hierarchy.iterdir() if p.is_dir()}
    reclaimed = []
    for name in sorted(n for n in names if NAME.fullmatch(n)):
        started = time.monotonic()
        record_file = RECORDS / f"{name}.json"
        record: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(record_file.read_text(encoding="utf-8"))
        stale = Sandbox(name, "", "")
        if _owned(stale, record):  # a node of a live process that took no lock (an older version's)
            progress(f"node: {name} is another live process's node: not reclaimed")
            continue
        stale.made_dirs = [Path(p) for p in record.get("made_dirs", [])]
        stale.made_netns_dir = bool(record.get("made_netns_dir", False))
        stale.cgroups = [h / name for h in cgroup_hierarchies() if (h / name).is_dir()]
        stale.stop()
        reclaimed.append(name)
        took = time.monotonic() - started
        progress(f"node: reclaimed {name}, left by a node that did not stop ... {took:.1f} s")
    return reclaimed


def _stat_fields(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` after the command name (field 3 on); empty when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if len(fields) > 19 else None  # field 22: start time in clock ticks


def _owned(node: Sandbox, record: dict[str, Any]) -> bool:
    """Whether the process that made ``node`` still lives: its record's owner (pid and start time,
    so a reused pid is not taken for it), or for a node without a record, a process of the node
    whose parent lives outside it (orphans are adopted by PID 1)."""
    owner = record.get("owner")
    if isinstance(owner, list) and len(owner) == 2:
        return _start_time(int(owner[0])) == owner[1]
    inside = set(node._pids())
    for pid in inside:
        fields = _stat_fields(pid)
        if len(fields) > 1 and int(fields[1]) not in inside and int(fields[1]) > 1:
            return True
    return False


@contextlib.contextmanager
def sandbox() -> Iterator[Sandbox]:
    """:meth:`Sandbox.make`, stopped however the block ends."""
    made = Sandbox.make()
    try:
        yield made
    finally:
        made.stop()


class _Borrowed:
    """The node lock this process already holds (``holding_the_machine``): closing it keeps it."""

    def close(self) -> None:
        return None


_held: Any = None
"""This process's hold on the node lock while ``holding_the_machine`` runs."""


@contextlib.contextmanager
def holding_the_machine(progress: Progress = print) -> Iterator[None]:
    """Hold the machine-wide node lock for a block; nodes made inside it borrow the hold.

    For checks of the whole machine before and after a node (no other node may come or go between).
    """
    global _held
    handle = _node_lock(progress)
    _held = handle
    try:
        yield
    finally:
        _held = None
        handle.close()


def _node_lock(progress: Progress) -> Any:
    """Wait (bounded) until no other node runs on this machine; the open, locked file."""
    if _held is not None:
        return _Borrowed()
    path = NODE_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    deadline = time.monotonic() + LOCK_WAIT_S
    noticed = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise SandboxError(
                    f"another node kept this machine for {LOCK_WAIT_S:.0f} s ({path})"
                ) from None
            if not noticed:
                progress("node: waiting for another node on this machine to stop")
                noticed = True
            time.sleep(0.5)
