"""Generated credentials, secret end to end on every target."""

from __future__ import annotations

import pulumi
import pulumi_random as random


def password(name: str, parent: pulumi.Resource, *, length: int = 32) -> random.RandomPassword:
    """A generated credential; alphanumeric so it embeds in URLs, env and htpasswd without escaping.

    ``result`` and ``bcrypt_hash`` are declared secret outputs: Pulumi keeps them encrypted in state,
    and the offline engine marks them secret as the real engine does.
    """
    return random.RandomPassword(
        name,
        length=length,
        special=False,
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result", "bcrypt_hash"]),
    )
