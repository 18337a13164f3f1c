"""The stack config keys behind generated credentials, and the stand-in seed for runs without one.

Every generated credential (database, object-store, registry and Grafana passwords) is derived from
one stack secret, ``mlops-platform:credentialSeed`` (``mlops_platform.components.credentials``), so the
program needs
no ``random`` provider and a second ``pulumi up`` changes nothing. ``mlops secrets ENV`` writes the
seed (encrypted, ``secure:`` in the stack file); ``mlops secrets ENV --rotate NAME`` bumps one
credential's generation in ``mlops-platform:credentialRotations`` (plain: ``{name: generation}``).

Tools that run a stack file without its seed (the offline audit, ephemeral real-engine stacks) use
:func:`credential_seed_placeholder`, the one stand-in both agree on. Nothing here imports Pulumi.
"""

from __future__ import annotations

CREDENTIAL_SEED_KEY = "credentialSeed"
"""Secret config key (project namespace) of the seed every generated credential derives from."""
CREDENTIAL_ROTATIONS_KEY = "credentialRotations"
"""Plain config key (project namespace): credential child name -> generation (absent: 0)."""
SEED_FIX = "run `mlops secrets {environment}` to generate it"
"""How to obtain a missing seed, for error messages (``str.format(environment=...)``)."""


def credential_seed_placeholder(environment: str) -> str:
    """The seed used where a stack file has none: deterministic per environment, obviously fake.

    Credentials derived from it are as fake as it is; they only let a program run for an audit or an
    ephemeral preview. Callers mark it secret, like the stand-in of a ``secure:`` value.

    Args:
        environment: the stack name (``prod``).
    """
    return f"mock-secret-credential-seed-{environment}-not-for-deployment"


def missing_seed_message(project: str, environment: str) -> str:
    """The error of a program run on a stack without its seed: names the key and the fix."""
    return (
        f"stack {environment!r} has no secret {project}:{CREDENTIAL_SEED_KEY}, the seed every generated "
        f"credential is derived from; {SEED_FIX.format(environment=environment)}"
    )


def parse_rotations(value: object) -> dict[str, int]:
    """``credentialRotations`` as read from config (None when absent): credential name -> generation.

    Raises:
        ValueError: not a mapping of names to non-negative integers; the message says which entry.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{CREDENTIAL_ROTATIONS_KEY} must map credential names to generations")
    rotations: dict[str, int] = {}
    for name, generation in value.items():
        if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
            raise ValueError(
                f"{CREDENTIAL_ROTATIONS_KEY}.{name}: a generation is a non-negative integer "
                f"(got {generation!r})"
            )
        rotations[str(name)] = generation
    return rotations
