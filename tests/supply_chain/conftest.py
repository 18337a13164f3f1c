"""One local registry per module, holding signed, unsigned, wrongly signed and missing images."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_platform.tools.images.registry import running_registry
from tests.supply_chain.registry_fixtures import (
    Signer,
    free_port,
    push_image,
    push_signature,
    require_registry_tools,
)

MADE_UP = "sha256:" + "0123456789abcdef" * 4  # the scaffold's placeholder digest


@dataclass(frozen=True)
class Registry:
    address: str
    release: Signer  # the key the tier trusts
    intruder: Signer  # a key it does not
    digests: dict[str, str]  # repository -> digest of its v1

    def ref(self, repository: str, digest: str | None = None) -> str:
        """``<address>/<repository>@<digest>`` (its pushed digest unless given)."""
        return f"{self.address}/{repository}@{digest or self.digests[repository]}"

    def trusted(self) -> list[dict[str, str]]:
        """The ``trustedKeys`` entry a tier's policy config would hold."""
        return [{"name": "release", "publicKey": self.release.public_pem}]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    require_registry_tools()
    work = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    release, intruder = Signer.new(), Signer.new()
    with running_registry(address, work / "storage", progress=lambda _line: None):
        digests = {
            name: push_image(work, address, name, f"{name} content")
            for name in ("acme/signed", "acme/unsigned", "acme/other-key", "acme/copied-signature")
        }
        push_signature(work, address, "acme/signed", digests["acme/signed"], release)
        push_signature(work, address, "acme/other-key", digests["acme/other-key"], intruder)
        # a valid signature of acme/signed's digest, copied under acme/copied-signature's tag
        push_signature(
            work, address, "acme/copied-signature", digests["acme/copied-signature"], release,
            signs=digests["acme/signed"],
        )  # fmt: skip
        yield Registry(address, release, intruder, digests)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
