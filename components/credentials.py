"""Generated credentials, derived from one secret seed: no provider, secret end to end, stable.

A credential is ``HMAC-SHA256(seed, "password" NUL <name> NUL <generation> NUL <block>)``, read byte
by byte into the alphanumeric alphabet (bytes >= 248 = 4 * 62 are skipped, so every character is
equally likely) until ``length`` characters are drawn; alphanumeric so it embeds in URLs, env and
htpasswd without escaping. The same seed, name and generation always give the same credential, so a
second ``pulumi up`` changes nothing and no ``random`` provider is needed (the real engine here cannot
get ``pulumi-resource-random``). Everything is computed in ``Output.apply`` on the secret seed: every
credential is a secret Output, and no resource is created.

Rotation: bump one credential's generation (``CredentialArgs.rotations``, the stack's
``mlops-platform:credentialRotations``, ``mlops secrets ENV --rotate NAME``) and only that credential
changes; a new seed (``mlops secrets ENV --new-seed``) rotates every credential at once. Only the
value handed to the workloads changes: a database initialised with the old password keeps it, and
objects encrypted under a rotated KMS key stay encrypted under the old one.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import itertools
import string
from collections.abc import Iterator

import bcrypt
import pulumi

from mlops_platform.components.args import CredentialArgs

ALPHABET = string.ascii_letters + string.digits
"""The 62 characters a generated credential is drawn from."""
_ACCEPT_BELOW = 4 * len(ALPHABET)  # 248: a byte maps to ALPHABET[b % 62] without bias below this
BCRYPT_COST = 10  # 2**10 rounds: bcrypt's default (and the random provider's); about 50 ms per hash
BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) password bytes past the 72nd
# bcrypt's own base64 alphabet, in the order of the standard one (same bit packing, other symbols).
_TO_BCRYPT_B64 = str.maketrans(
    string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/",
    "./" + string.ascii_uppercase + string.ascii_lowercase + string.digits,
)


def _blocks(seed: str, purpose: str, name: str, generation: int) -> Iterator[int]:
    """Bytes of ``HMAC-SHA256(seed, purpose NUL name NUL generation NUL counter)`` for counter 0, 1..."""
    if not seed:
        raise ValueError("the credential seed is empty")
    key = seed.encode()
    prefix = f"{purpose}\0{name}\0{generation}\0".encode()
    counter = 0
    while True:
        yield from hmac.new(key, prefix + str(counter).encode(), hashlib.sha256).digest()
        counter += 1


def derive(seed: str, name: str, *, length: int = 32, generation: int = 0) -> str:
    """The credential ``name`` of generation ``generation``: ``length`` alphanumeric characters.

    Args:
        seed: the stack's ``credentialSeed`` (plaintext: call this inside ``apply`` only).
        name: the credential's name, unique in the stack (``storage-postgres-password``).
        length: number of characters (62 symbols each: 32 characters carry about 190 bits).
        generation: bumped to rotate this credential alone (0 until the first rotation).
    """
    if length < 1:
        raise ValueError(f"credential length must be positive, got {length}")
    chars: list[str] = []
    for byte in _blocks(seed, "password", name, generation):
        if byte < _ACCEPT_BELOW:
            chars.append(ALPHABET[byte % len(ALPHABET)])
            if len(chars) == length:
                return "".join(chars)
    raise AssertionError("unreachable: the HMAC stream is endless")


def bcrypt_salt(seed: str, name: str, *, generation: int = 0, cost: int = BCRYPT_COST) -> bytes:
    """A valid bcrypt salt (``$2b$<cost>$`` + 22 characters) derived from the seed: stable run to run.

    Args:
        seed: the stack's ``credentialSeed``.
        name: the credential's name.
        generation: the credential's generation; a rotation changes the salt too.
        cost: bcrypt cost factor (log2 of the rounds).
    """
    raw = bytes(itertools.islice(_blocks(seed, "bcrypt-salt", name, generation), 16))  # bcrypt: 16 bytes
    encoded = base64.b64encode(raw).decode().rstrip("=").translate(_TO_BCRYPT_B64)
    return f"$2b${cost:02d}${encoded}".encode()


def bcrypt_hash(password: str, salt: bytes) -> str:
    """``bcrypt(password, salt)`` as text; refuses passwords bcrypt would silently truncate."""
    data = password.encode()
    if len(data) > BCRYPT_MAX_BYTES:
        raise ValueError(f"bcrypt uses only the first {BCRYPT_MAX_BYTES} bytes of a password")
    return bcrypt.hashpw(data, salt).decode()


class GeneratedCredential:
    """One credential derived from ``CredentialArgs``: ``result`` and ``bcrypt_hash`` are secret Outputs."""

    name: str
    """The credential's name: the key of its generation in ``CredentialArgs.rotations``."""
    generation: int
    """0 until the first rotation."""
    result: pulumi.Output[str]
    """Secret: the credential, ``length`` alphanumeric characters."""

    def __init__(self, credentials: CredentialArgs, name: str, *, length: int) -> None:
        self.name = name
        self.generation = credentials.rotations.get(name, 0)
        self._length = length
        self._seed = pulumi.Output.secret(credentials.seed)
        generation = self.generation
        self.result = self._seed.apply(lambda seed: derive(seed, name, length=length, generation=generation))

    @functools.cached_property
    def bcrypt_hash(self) -> pulumi.Output[str]:
        """Secret: the credential's bcrypt hash (``$2b$10$...``, htpasswd), with a derived, stable salt.

        Computed only when asked for: bcrypt is deliberately slow.
        """
        name, length, generation = self.name, self._length, self.generation

        def hashed(seed: str) -> str:
            password = derive(seed, name, length=length, generation=generation)
            return bcrypt_hash(password, bcrypt_salt(seed, name, generation=generation))

        return self._seed.apply(hashed)


def password(credentials: CredentialArgs, name: str, *, length: int = 32) -> GeneratedCredential:
    """A generated credential named ``name`` (a component child name, ``f"{name}-<role>"``).

    Args:
        credentials: the seed and rotations the component was given (``*Args.credentials``).
        name: unique in the stack; also the name ``mlops secrets ENV --rotate`` takes.
        length: number of alphanumeric characters.
    """
    return GeneratedCredential(credentials, name, length=length)
