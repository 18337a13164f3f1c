"""Each writing command killed (SIGKILL) at random points: its files are whole (old or new) or absent.

The atomic-write helper itself is killed 300 times in ``test_atomic_write.py``; here the commands as
users run them, fewer times each (every run starts an interpreter): `schema -o --force`, `init`,
`promote --yes`, `registry snapshot -o --force` (rollback: ``tests/registry/test_edit_safety.py``;
`secrets`, which needs a Pulumi CLI: ``tests/cli/test_secrets_cli.py``).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.tools.atomic_write import TMP_MARK
from tests.cli_runner import REPO, kill_tree
from tests.registry.envs import registry_env
from tests.registry.snapshots import bundled_models

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "mlops_platform.tools.cli"]


def _runtime(args: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(args, cwd=REPO, capture_output=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def _kill_at(args: list[str], delay_s: float) -> None:
    """Run ``args`` and SIGKILL it after ``delay_s``; then whatever it started (its process group)."""
    process = subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    time.sleep(delay_s)
    kill_tree(process)


def test_schema_output_killed_is_old_or_new(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    args = [*CLI, "schema", "-o", str(target), "--force"]
    old = b'{"old": true}\n'
    target.write_bytes(old)
    runtime = _runtime(args)
    new = target.read_bytes()
    rng = random.Random(25)
    for _ in range(30):
        target.write_bytes(old)
        _kill_at(args, rng.uniform(0.6, 1.1) * runtime)
        assert target.read_bytes() in (old, new)
    _runtime(args)  # the next run removes what the killed ones left
    assert [p.name for p in tmp_path.iterdir()] == ["schema.json"]


def test_init_killed_leaves_whole_files_or_none(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    _runtime([*CLI, "init", str(reference), "--name", "kill"])
    expected = {p.relative_to(reference): p.read_bytes() for p in reference.rglob("*") if p.is_file()}
    runtime = _runtime([*CLI, "init", str(tmp_path / "timing"), "--name", "kill"])
    rng = random.Random(25)
    for n in range(30):
        project = tmp_path / f"p{n}"
        _kill_at([*CLI, "init", str(project), "--name", "kill"], rng.uniform(0.6, 1.1) * runtime)
        for path in project.rglob("*") if project.exists() else []:
            if path.is_file() and TMP_MARK not in path.name:
                assert path.read_bytes() == expected[path.relative_to(project)], path


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if TMP_MARK in p.name)


def test_promote_killed_is_old_or_new(tmp_path: Path) -> None:
    """staging serves fraud-scorer 5; promote pins it in prod (canary on 6), offline from a snapshot."""
    uri = "http://127.0.0.1:9"  # never contacted: the registry is the snapshot file
    snapshot = bundled_models(uri, tmp_path / "snapshot.json", fraud_versions=6)
    prod = registry_env(tmp_path / "envs", "prod", uri)
    prod.write_text(
        prod.read_text().replace(
            "          alias: challenger\n          weight: 10", "          version: 6\n          weight: 10"
        )
    )
    staging = registry_env(tmp_path / "envs", "staging", uri)
    staging.write_text(
        staging.read_text().replace(
            "model: {name: fraud-scorer, alias: challenger}", "model: {name: fraud-scorer, version: 5}"
        )
    )
    old = prod.read_bytes()
    args = [*CLI, "promote", "fraud-scorer", "--from", str(staging), "--to", str(prod)]
    args += ["--registry-snapshot", str(snapshot), "--yes"]
    runtime = _runtime(args)
    new = prod.read_bytes()
    assert new != old and b"model: {name: fraud-scorer, version: 5}" in new
    rng = random.Random(25)
    seen = {old: 0, new: 0}
    for _ in range(20):  # about 5 s a run: its audit gate
        prod.write_bytes(old)
        _kill_at(args, rng.uniform(0.5, 1.3) * runtime)
        data = prod.read_bytes()
        assert data in seen, f"{len(data)} bytes: neither the old file nor the new"
        seen[data] += 1
    assert seen[old] and seen[new], seen  # kills landed before and after the write
    prod.write_bytes(old)
    _runtime(args)  # the next run removes what the killed ones left
    assert _leftovers(tmp_path) == []


class _FakeMlflow:
    """MLflow's REST answers for ``registry snapshot`` from a snapshot document, on loopback."""

    def __init__(self, document: dict[str, Any]) -> None:
        models = document["models"]

        def versions(name: str) -> list[dict[str, Any]]:
            return [
                {
                    "name": name,
                    "version": str(number),
                    "source": entry["source"],
                    "status": "READY",
                    "tags": [{"key": k, "value": v} for k, v in entry["tags"].items()],
                }
                for number, entry in models[name]["versions"].items()
            ]

        class _H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                name = query.get("name", [""])[0] or query.get("filter", [""])[0][len("name='") : -1]
                body: dict[str, Any]
                if name not in models:
                    body, status = {"error_code": "RESOURCE_DOES_NOT_EXIST"}, 404
                elif url.path.endswith("/model-versions/search"):
                    body, status = {"model_versions": versions(name)}, 200
                elif url.path.endswith("/registered-models/get"):
                    aliases = [{"alias": a, "version": str(v)} for a, v in models[name]["aliases"].items()]
                    body, status = {"registered_model": {"name": name, "aliases": aliases}}, 200
                else:
                    body, status = {"error_code": "ENDPOINT_NOT_FOUND"}, 404
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def fake_mlflow(tmp_path: Path) -> Iterator[_FakeMlflow]:
    document = json.loads(bundled_models("http://unused", tmp_path / "models.json").read_text())
    server = _FakeMlflow(document)
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_registry_snapshot_output_killed_is_old_or_new(tmp_path: Path, fake_mlflow: _FakeMlflow) -> None:
    """`registry snapshot prod -o FILE --force` from a live (fake) registry: FILE is the old one or a
    whole new snapshot, equal byte for byte to a finished run's but for its ``taken_at`` time."""
    prod = registry_env(tmp_path / "envs", "prod", fake_mlflow.uri)
    target = tmp_path / "out" / "snapshot.json"
    target.parent.mkdir()
    old = b'{"old": true}\n'
    target.write_bytes(old)
    args = [*CLI, "registry", "snapshot", str(prod), "-o", str(target), "--force"]
    runtime = _runtime(args)

    def timeless(data: bytes) -> bytes:
        return re.sub(rb'"taken_at": "[^"]*"', b'"taken_at": "-"', data)

    new = timeless(target.read_bytes())
    assert b'"fraud-scorer"' in new and json.loads(new)["tracking_uri"] == fake_mlflow.uri
    rng = random.Random(25)
    seen = {old: 0, new: 0}
    for _ in range(30):
        target.write_bytes(old)
        _kill_at(args, rng.uniform(0.5, 1.3) * runtime)
        data = timeless(target.read_bytes())
        assert data in seen, f"{len(data)} bytes: neither the old file nor a whole new snapshot"
        seen[data] += 1
    assert seen[old] and seen[new], seen  # kills landed before and after the write
    _runtime(args)  # the next run removes what the killed ones left
    assert [p.name for p in target.parent.iterdir()] == ["snapshot.json"]
