"""``mlops_platform.components.credentials``: credentials derived from one seed, secret, stable, rotatable
one by one.

The platform registers no ``random:`` resource on any bundled environment: the real engine here has no
``pulumi-resource-random`` plugin.
"""

from __future__ import annotations

import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_platform.components.args import CredentialArgs
from mlops_platform.components.credentials import (
    ALPHABET,
    BCRYPT_COST,
    bcrypt_hash,
    bcrypt_salt,
    derive,
    password,
)
from mlops_platform.stacks.composition import build_platform
from mlops_platform.stacks.loader import load_environment
from tests.components.conftest import TEST_SEED, credential, run_program, secret_lookup

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=40)


@given(seed=st.text(min_size=1), name=NAMES, length=st.integers(1, 72), generation=st.integers(0, 5))
@settings(max_examples=200)
def test_a_credential_is_alphanumeric_of_the_requested_length_and_stable(
    seed: str, name: str, length: int, generation: int
) -> None:
    value = derive(seed, name, length=length, generation=generation)
    assert len(value) == length and set(value) <= set(ALPHABET)
    assert derive(seed, name, length=length, generation=generation) == value


def test_credentials_differ_across_names_seeds_and_generations() -> None:
    base = derive("seed-a", "storage-postgres-password")
    assert derive("seed-a", "storage-postgres-password") == base
    assert derive("seed-a", "storage-minio-secret-key") != base
    assert derive("seed-b", "storage-postgres-password") != base
    rotated = derive("seed-a", "storage-postgres-password", generation=1)
    assert rotated != base and rotated != derive("seed-a", "storage-postgres-password", generation=2)
    # a longer credential is not a shorter one extended: lengths are chosen once, per name
    assert len(derive("seed-a", "x", length=40)) == 40


def test_the_alphabet_is_used_evenly() -> None:
    drawn = "".join(derive("seed", f"name-{i}", length=64) for i in range(500))  # 32,000 characters
    counts = [drawn.count(c) for c in ALPHABET]
    expected = len(drawn) / len(ALPHABET)
    assert min(counts) > 0.8 * expected and max(counts) < 1.2 * expected


@pytest.mark.parametrize(("seed", "length"), [("", 32), ("seed", 0)])
def test_an_empty_seed_or_length_is_refused(seed: str, length: int) -> None:
    with pytest.raises(ValueError, match=r"empty|positive"):
        derive(seed, "x", length=length)


def test_the_bcrypt_entry_verifies_and_is_stable() -> None:
    secret = derive("seed", "registry-images-password")
    salt = bcrypt_salt("seed", "registry-images-password")
    assert salt.startswith(f"$2b${BCRYPT_COST}$".encode()) and len(salt) == 29
    hashed = bcrypt_hash(secret, salt)
    assert hashed.encode()[:29] == salt  # bcrypt kept the derived salt as it is
    assert bcrypt.checkpw(secret.encode(), hashed.encode())
    assert not bcrypt.checkpw(b"wrong", hashed.encode())
    assert bcrypt_hash(secret, bcrypt_salt("seed", "registry-images-password")) == hashed
    assert bcrypt_salt("seed", "registry-images-password", generation=1) != salt
    assert bcrypt_salt("seed", "other") != salt
    with pytest.raises(ValueError, match="72 bytes"):
        bcrypt_hash("x" * 73, salt)


def test_credentials_are_secret_outputs_and_create_no_resource() -> None:
    def program() -> object:
        credentials = CredentialArgs(seed="plain-seed", rotations={"rotated": 3})
        return password(credentials, "db", length=20), password(credentials, "rotated")

    rec = run_program(program, stack="unit")
    db, rotated = rec.result
    assert rec.resources == []
    for output in (db.result, db.bcrypt_hash, rotated.result):
        assert rec.is_secret(output)  # even from a plain seed
    assert rec.resolve(db.result) == derive("plain-seed", "db", length=20)
    assert bcrypt.checkpw(rec.resolve(db.result).encode(), rec.resolve(db.bcrypt_hash).encode())
    assert rotated.generation == 3
    assert rec.resolve(rotated.result) == derive("plain-seed", "rotated", generation=3)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_environment_registers_a_random_resource(env: str) -> None:
    spec = load_environment(env)
    rec = run_program(
        lambda: build_platform(spec, secret=secret_lookup("https://hooks.example/x")), stack=env
    )
    assert rec.resources
    assert [r.urn for r in rec.resources if r.type.startswith(("random:", "pulumi:providers:random"))] == []
    assert rec.credentials  # the credentials were derived instead, from the stack's seed
    assert all(value == credential(name, len(value)) for name, value in rec.credentials.items())
    assert TEST_SEED not in str([r.plain for r in rec.resources])
