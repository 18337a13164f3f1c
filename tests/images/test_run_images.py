"""Each image really runs its software: its root filesystem under runc, as the image's user.

``umoci unpack`` turns the image into a runtime bundle (its config becomes the bundle's process:
user, environment, working directory); runc then runs each of the recipe's checks in it, in fresh
namespaces, the way containerd's shim would. The PostgreSQL image also initialises a database from
the official image's environment contract and answers a password login over TCP.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from mlops_platform.tools.images.builder import BuiltImage
from mlops_platform.tools.images.recipes import RECIPES

RUN_TIMEOUT_S = 300


def unpack(image: BuiltImage, target: Path) -> Path:
    bundle = target / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", image.oci_ref.removeprefix("oci:"), str(bundle)],
        check=True,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
    )
    return bundle


def run_container(bundle: Path, argv: Sequence[str], *, env: Sequence[str] = (), name: str) -> str:
    """Run ``argv`` in the bundle's container (the image's user, env and workdir); its output."""
    path = bundle / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["process"]["terminal"] = False
    config["process"]["args"] = list(argv)
    config["process"]["env"] = [*config["process"]["env"], *env]
    path.write_text(json.dumps(config), encoding="utf-8")
    state = bundle.parent / "runc-state"
    done = subprocess.run(
        [
            "runc",
            "--root",
            str(state),
            "run",
            "--bundle",
            str(bundle),
            f"mlops-image-test-{name}-{os.getpid()}",
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{output[-3000:]}"
    return output


@pytest.mark.parametrize("name", [r.name for r in RECIPES])
def test_image_runs_its_software_as_its_user(built: dict[str, BuiltImage], name: str, tmp_path: Path) -> None:
    image = built[name]
    bundle = unpack(image, tmp_path)
    process = json.loads((bundle / "config.json").read_text(encoding="utf-8"))["process"]
    assert process["user"]["uid"] == image.recipe.user
    assert process["cwd"] == image.recipe.workdir
    for check in image.recipe.checks:
        output = run_container(bundle, check.argv, name=name)
        assert check.expect in output, f"{' '.join(check.argv)} printed {output!r}"


def test_postgres_initialises_from_the_official_env_and_accepts_a_password_login(
    built: dict[str, BuiltImage], tmp_path: Path
) -> None:
    bundle = unpack(built["postgres"], tmp_path)
    script = (
        "docker-entrypoint.sh postgres >/tmp/server.log 2>&1 &\n"
        "for i in $(seq 1 120); do pg_isready -h 127.0.0.1 -U mlflow -d mlflow && break; sleep 0.5; done\n"
        "PGPASSWORD=s3cret psql -h 127.0.0.1 -U mlflow -d mlflow -tAc "
        "\"select current_user || ' ' || current_database() || ' ' || current_setting('server_version')\"\n"
        "PGPASSWORD=wrong psql -h 127.0.0.1 -U mlflow -d mlflow -c 'select 1' 2>&1 || echo refused\n"
        'pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null\n'
    )
    env = [
        "POSTGRES_USER=mlflow",
        "POSTGRES_PASSWORD=s3cret",
        "POSTGRES_DB=mlflow",
        "PGDATA=/var/lib/postgresql/data/pgdata",
    ]
    output = run_container(bundle, ["sh", "-ec", script], env=env, name="postgres-init")
    assert "mlflow mlflow 15." in output, output
    assert "password authentication failed" in output and "refused" in output, output
