"""A real OCI registry on loopback with signed, unsigned and missing images, for the supply-chain tests.

Debian's ``docker-registry`` (Distribution 2.8.2) serves the images; ``skopeo copy`` (1.9.3) pushes
each one from an OCI layout made here. Debian builds skopeo with sigstore signing disabled ("Debian-local
change: sigstore disabled", measured), so signatures are written in cosign's simple-signing layout by
:func:`push_signature`: the payload cosign signs, an ECDSA P-256 signature of it (``cryptography``),
one layer of ``application/vnd.dev.cosign.simplesigning.v1+json`` annotated with the base64 signature,
under the tag ``sha256-<hex>.sig``, pushed by skopeo like any image.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PUSH_TIMEOUT_S = 60


def require_registry_tools() -> None:
    """Skip (locally) or fail (``CI=true``) unless docker-registry and skopeo are installed."""
    missing = [tool for tool in ("docker-registry", "skopeo") if shutil.which(tool) is None]
    if missing:
        message = f"missing {', '.join(missing)} (apt-get install docker-registry skopeo)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _layout(root: Path) -> None:
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}), encoding="utf-8")


def _blob(root: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def _index(root: Path, manifest: bytes, tag: str) -> str:
    digest, size = _blob(root, manifest)
    entry = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": size,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}), encoding="utf-8")
    return digest


def image_layout(root: Path, content: str, tag: str = "v1") -> str:
    """An OCI layout of a one-file image; returns its manifest digest."""
    _layout(root)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        data = content.encode()
        info = tarfile.TarInfo("content.txt")
        info.size, info.mtime = len(data), 0
        archive.addfile(info, io.BytesIO(data))
    layer_digest, layer_size = _blob(root, gzip.compress(raw.getvalue(), mtime=0))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]},
    }
    config_digest, config_size = _blob(root, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    return _index(root, json.dumps(manifest).encode(), tag)


def cosign_payload(reference: str, digest: str) -> bytes:
    """The simple-signing payload cosign signs for ``reference`` at ``digest``."""
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()


def signature_layout(root: Path, payload: bytes, signature: bytes, tag: str) -> str:
    """An OCI layout of a cosign signature manifest: one simple-signing layer, its signature annotated."""
    _layout(root)
    payload_digest, payload_size = _blob(root, payload)
    config = {
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [payload_digest]},
    }
    config_digest, config_size = _blob(root, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": payload_digest,
                "size": payload_size,
                "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()},
            }
        ],
    }
    return _index(root, json.dumps(manifest).encode(), tag)


def skopeo_push(layout: Path, tag: str, target: str) -> None:
    """``skopeo copy`` the layout's ``tag`` to ``docker://target`` over plain HTTP, digests kept."""
    done = subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout}:{tag}",
            f"docker://{target}",
        ],
        capture_output=True,
        text=True,
        timeout=PUSH_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@dataclass(frozen=True)
class Signer:
    """An ECDSA P-256 key pair, as ``cosign generate-key-pair`` makes (the public half in PEM)."""

    private: ec.EllipticCurvePrivateKey

    @classmethod
    def new(cls) -> Signer:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, payload: bytes) -> bytes:
        return self.private.sign(payload, ec.ECDSA(hashes.SHA256()))


def push_signature(
    workdir: Path, registry: str, repository: str, digest: str, signer: Signer, *, signs: str | None = None
) -> None:
    """Sign ``repository@digest`` with ``signer`` the way cosign stores it (``signs``: the digest the
    payload names, another one for a signature copied from elsewhere)."""
    tag = digest.replace(":", "-") + ".sig"
    payload = cosign_payload(f"{registry}/{repository}", signs or digest)
    layout = workdir / f"sig-{repository.replace('/', '-')}-{hashlib.sha256(payload).hexdigest()[:8]}"
    signature_layout(layout, payload, signer.sign(payload), tag)
    skopeo_push(layout, tag, f"{registry}/{repository}:{tag}")


def push_image(workdir: Path, registry: str, repository: str, content: str, tag: str = "v1") -> str:
    """Push a one-file image to ``registry/repository:tag``; return its manifest digest."""
    layout = workdir / f"img-{repository.replace('/', '-')}-{tag}"
    digest = image_layout(layout, content, tag)
    skopeo_push(layout, tag, f"{registry}/{repository}:{tag}")
    return digest
