"""The plain view of a resource that rules receive, and defensive accessors.

``pulumi_policy`` hands validations a read-only proxy that raises ``UnknownValueError`` when a value
that is unknown during preview is read. Rules must neither crash on that nor treat it as compliant,
so :func:`plain` copies the proxy into ordinary dicts and lists, replacing each unknown value with an
:class:`Unknown` marker that rules test for explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_SENTINELS = {
    UNKNOWN_BOOLEAN_VALUE: "boolean",
    UNKNOWN_NUMBER_VALUE: "number",
    UNKNOWN_STRING_VALUE: "string",
    UNKNOWN_ARRAY_VALUE: "array",
    UNKNOWN_ASSET_VALUE: "asset",
    UNKNOWN_ARCHIVE_VALUE: "archive",
    UNKNOWN_OBJECT_VALUE: "object",
}

Config = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value that is not known until the update runs (e.g. another resource's output in preview)."""

    path: str
    kind: str = "value"

    def __str__(self) -> str:
        return f"<unknown {self.kind}>"


def unknown_message(path: str, what: str = "") -> str:
    """The violation text for a value a rule needs but cannot see during preview."""
    suffix = f"; {what} cannot be verified" if what else "; it cannot be verified"
    return f"{path} is unknown during preview{suffix}"


def plain(value: Any, path: str = "") -> Any:
    """Copy a ``pulumi_policy`` proxy (or plain data) into dicts/lists with :class:`Unknown` markers."""
    if isinstance(value, str):
        kind = _SENTINELS.get(value)
        return Unknown(path or ".", kind) if kind else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(iter(value)):
            sub = f"{path}.{key}"
            try:
                item = value[key]
            except UnknownValueError as exc:
                out[str(key)] = Unknown(sub, _SENTINELS.get(exc.unknown_type_sentinel, "value"))
                continue
            out[str(key)] = plain(item, sub)
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items: list[Any] = []
        for index in range(len(value)):
            sub = f"{path}[{index}]"
            try:
                item = value[index]
            except UnknownValueError as exc:
                items.append(Unknown(sub, _SENTINELS.get(exc.unknown_type_sentinel, "value")))
                continue
            items.append(plain(item, sub))
        return items
    return value


@dataclass(frozen=True, slots=True)
class Res:
    """One resource as a rule sees it: type token, name, URN, plain inputs and the options policies see."""

    type: str
    name: str
    props: dict[str, Any]
    urn: str = ""
    protect: bool = False
    secret_outputs: tuple[str, ...] = field(default_factory=tuple)

    @property
    def kind(self) -> str:
        """The last segment of the type token (``Deployment``, ``Container``)."""
        return self.type.rsplit(":", 1)[-1]

    @property
    def is_k8s(self) -> bool:
        return self.type.startswith("kubernetes:")

    @property
    def is_docker(self) -> bool:
        return self.type.startswith("docker:")

    @property
    def label(self) -> str:
        """How messages name the resource (``Deployment "api"``)."""
        return f'{self.kind} "{self.name}"'


def resource_options(opts: Any) -> tuple[bool, tuple[str, ...]]:
    """The options a ``Res`` carries, read from the SDK's resource options: protect, secret outputs."""
    return (
        bool(getattr(opts, "protect", False)),
        tuple(str(o) for o in (getattr(opts, "additional_secret_outputs", None) or ())),
    )


def res_of(resource_type: str, name: str, urn: str, props: dict[str, Any], opts: Any) -> Res:
    """A ``Res`` of plain props (already through :func:`plain`) and the SDK's resource options."""
    protect, secret_outputs = resource_options(opts)
    return Res(
        type=resource_type, name=name, urn=urn, props=props, protect=protect, secret_outputs=secret_outputs
    )


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def get(obj: Any, *keys: str | int) -> Any:
    """Walk ``keys`` into nested dicts/lists; ``None`` when any step is missing or of the wrong type.

    An :class:`Unknown` met on the way is returned as is, so callers can tell "absent" from "unknown".
    """
    cur = obj
    for key in keys:
        if isinstance(cur, Unknown):
            return cur
        if isinstance(key, int):
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):
                return None
            cur = cur[key]
        else:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(key)
    return cur


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    """A string, or ``None`` for anything else (numbers are not coerced: labels are strings)."""
    return value if isinstance(value, str) else None


def as_int(value: Any) -> int | None:
    """An integer from an int, an integral float (the protocol sends numbers as floats) or a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def truthy(value: Any) -> bool:
    """``True`` only for a real true value (``True``, ``"true"``); unknowns and junk are not true."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return False


def cfg_list(cfg: Config, key: str) -> list[str]:
    return [str(v) for v in as_list(cfg.get(key)) if isinstance(v, str | int | float)]


def hkey(value: Any) -> Any:
    """``value`` usable as a dict key or set member (lists and dicts from odd input become their repr)."""
    return value if isinstance(value, str | int | float | bool | Unknown) or value is None else repr(value)


@dataclass(frozen=True, kw_only=True, slots=True)
class AppliesTo:
    """Where a rule applies: the resource types it judges and, where the type alone does not tell, a
    predicate over the resource. Outside it the pack answers not-applicable instead of a pass.

    ``types`` of ``None`` means any type (the predicate decides). ``summary`` is what the catalogue
    prints and the reason the pack sends with each not-applicable answer.
    """

    summary: str
    types: frozenset[str] | None
    when: Callable[[Res, Config], bool] | None = None

    def type_may_apply(self, resource_type: str) -> bool:
        """False only when no resource of this type can be in scope (decided without the props)."""
        return self.types is None or resource_type in self.types

    def __call__(self, res: Res, cfg: Config) -> bool:
        return self.type_may_apply(res.type) and (self.when is None or self.when(res, cfg))
