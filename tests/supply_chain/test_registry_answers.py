"""What a real OCI registry answers for signed, unsigned, wrongly signed and missing images.

The registry is Debian's docker-registry on loopback (``conftest.registry``); every answer here went
over the OCI distribution API through :class:`~mlops_platform.tools.supply_chain.oci.OciClient`.
"""

from __future__ import annotations

import pytest

from mlops_platform.tools.registry.client import ErrorKind
from mlops_platform.tools.supply_chain.cosign import (
    TrustedKeyError,
    check_signatures,
    signature_tag,
    trusted_keys,
)
from mlops_platform.tools.supply_chain.oci import OciClient, OciError
from mlops_platform.tools.supply_chain.verify import consult_registries
from tests.supply_chain.conftest import MADE_UP, Registry
from tests.supply_chain.registry_fixtures import free_port


def test_a_pushed_digest_resolves_and_a_made_up_one_does_not(registry: Registry) -> None:
    client = OciClient(registry.address)
    manifest = client.manifest("acme/unsigned", registry.digests["acme/unsigned"])
    assert manifest is not None and manifest.digest == registry.digests["acme/unsigned"]
    assert manifest.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert client.manifest("acme/unsigned", MADE_UP) is None
    assert client.manifest("acme/never-pushed", "v1") is None
    by_tag = client.manifest("acme/unsigned", "v1")
    assert by_tag is not None and by_tag.digest == registry.digests["acme/unsigned"]


def test_signatures_verify_only_with_the_trusted_key_and_for_their_own_digest(registry: Registry) -> None:
    client = OciClient(registry.address)
    keys = trusted_keys(registry.trusted())
    signed = check_signatures(client, "acme/signed", registry.digests["acme/signed"], keys)
    assert (signed.found, signed.verified_by, signed.problems) == (1, ("release",), ())
    unsigned = check_signatures(client, "acme/unsigned", registry.digests["acme/unsigned"], keys)
    assert (unsigned.found, unsigned.verified_by, unsigned.problems) == (0, (), ())
    other = check_signatures(client, "acme/other-key", registry.digests["acme/other-key"], keys)
    assert (other.found, other.verified_by) == (1, ())
    assert other.problems == ("signature 1: it does not verify with any trusted key",)
    copied = check_signatures(
        client, "acme/copied-signature", registry.digests["acme/copied-signature"], keys
    )
    assert (copied.found, copied.verified_by) == (1, ())
    assert copied.problems == (
        f"signature 1: the payload signs another digest ({registry.digests['acme/signed']})",
    )
    # the intruder's key does verify its own signature: the check is the key, not the format
    theirs = trusted_keys([{"name": "intruder", "publicKey": registry.intruder.public_pem}])
    assert check_signatures(
        client, "acme/other-key", registry.digests["acme/other-key"], theirs
    ).verified_by == ("intruder",)


def test_consulting_answers_every_reference_once_with_its_digest_and_signatures(registry: Registry) -> None:
    keys = trusted_keys(registry.trusted())
    refs = {
        "signed": registry.ref("acme/signed"),
        "unsigned": registry.ref("acme/unsigned"),
        "made-up": registry.ref("acme/signed", MADE_UP),
        "by-tag": f"{registry.address}/acme/signed:v1",
    }
    answers = consult_registries(refs.values(), set(refs.values()), keys)
    assert set(answers) == set(refs.values())
    signed = answers[refs["signed"]]
    assert (signed.exists, signed.digest, signed.verified_by, signed.error) == (
        True,
        registry.digests["acme/signed"],
        ("release",),
        None,
    )
    assert answers[refs["by-tag"]].digest == registry.digests["acme/signed"]
    assert answers[refs["by-tag"]].verified_by == ("release",)
    unsigned = answers[refs["unsigned"]]
    assert (unsigned.exists, unsigned.signatures, unsigned.verified_by) == (True, 0, ())
    made_up = answers[refs["made-up"]]
    assert (made_up.exists, made_up.error, made_up.signatures) == (False, None, 0)


def test_signatures_are_read_only_for_the_references_that_need_them(registry: Registry) -> None:
    keys = trusted_keys(registry.trusted())
    ref = registry.ref("acme/signed")
    answer = consult_registries([ref], set(), keys)[ref]
    assert (answer.exists, answer.signatures, answer.verified_by) == (True, 0, ())


def test_an_unreachable_registry_is_an_answer_with_its_reason_not_a_pass() -> None:
    ref = f"127.0.0.1:{free_port()}/acme/signed@{MADE_UP}"
    answer = consult_registries([ref], {ref}, [])[ref]
    assert answer.exists is False
    assert answer.error is not None and "is unreachable" in answer.error
    with pytest.raises(OciError) as raised:
        OciClient(ref.split("/")[0], timeout_s=2).manifest("acme/signed", MADE_UP)
    assert raised.value.kind is ErrorKind.UNREACHABLE


def test_the_signature_tag_is_cosigns() -> None:
    assert signature_tag("sha256:" + "ab" * 32) == "sha256-" + "ab" * 32 + ".sig"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"name": "k"}, "trustedKeys: expected a list of {name, publicKey}"),
        ([{"publicKey": "x"}], "trustedKeys[0]: expected an object with a non-empty name and a publicKey"),
        ([{"name": "k", "publicKey": 3}], "trustedKeys[0] (k): publicKey must be a PEM public key"),
        ([{"name": "k", "publicKey": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}],
         "trustedKeys[0] (k): publicKey is not a PEM public key"),
    ],
)  # fmt: skip
def test_a_trusted_key_that_is_no_key_is_refused_with_its_place(entries: object, message: str) -> None:
    with pytest.raises(TrustedKeyError) as raised:
        trusted_keys(entries)
    assert str(raised.value) == message


def test_a_name_no_registry_can_hold_is_never_sent() -> None:
    refs = {
        f"127.0.0.1:{free_port()}/Acme/App:v1": "'Acme/App' is not a repository name",
        f"127.0.0.1:{free_port()}/acme/app:1 bad": "'1 bad' is neither a tag nor a sha256 digest",
    }
    answers = consult_registries(refs, set(refs), [])
    assert {ref: a.error for ref, a in answers.items()} == {
        ref: f"not an image reference a registry serves: {why}" for ref, why in refs.items()
    }
