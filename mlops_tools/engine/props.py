"""Property values on the wire (``google.protobuf.Struct`` in Pulumi's encoding) and as plain Python.

Pulumi encodes special values inside maps under a signature key: secrets, resource references,
assets and archives; unknown (computed) values are a sentinel string. The engine hands analyzers the
wire form with secrets and unknowns kept but resource references downgraded to their ID or URN.
Everything that leaves the engine as plain Python carries markers instead of secret plaintext.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

from mlops_platform.tools.findings import SECRET_MARKER, UNKNOWN_MARKER

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

_MIN_SECRET_LEN = 4  # shorter plaintexts ("on", "1") would redact innocent text everywhere


def _get(struct: struct_pb2.Struct, key: str, default: Any) -> Any:
    return struct[key] if key in struct else default  # noqa: SIM401 (Struct has no .get)


def _collect_strings(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        if len(value) >= _MIN_SECRET_LEN and value != UNKNOWN:
            into.add(value)
    elif isinstance(value, struct_pb2.Struct):
        for v in value.values():
            _collect_strings(v, into)
    elif isinstance(value, struct_pb2.ListValue):
        for v in value:
            _collect_strings(v, into)


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def to_plain(value: Any, secrets: set[str], plain: set[str] | None = None) -> Any:
    """Convert one wire value (as read from a ``Struct``) to plain Python with markers.

    Args:
        value: a value read from a ``Struct``/``ListValue`` (nested messages stay messages).
        secrets: receives the plaintext strings found inside secrets, for redaction elsewhere.
        plain: receives the strings found outside secrets (a value that is also public is no secret).
    """
    if isinstance(value, struct_pb2.Struct):
        if SIG_KEY in value:
            sig = value[SIG_KEY]
            if sig == SECRET_SIG:
                if "value" in value:
                    _collect_strings(value["value"], secrets)
                return dict(SECRET_MARKER)
            if sig == RESOURCE_SIG:
                return _get(value, "urn", UNKNOWN_MARKER)
            if sig == OUTPUT_SIG:
                if _get(value, "secret", False):
                    if "value" in value:
                        _collect_strings(value["value"], secrets)
                    return dict(SECRET_MARKER)
                return to_plain(value["value"], secrets, plain) if "value" in value else UNKNOWN_MARKER
            # Assets and archives: keep their description (path, text, uri), drop the signature.
            return {k: to_plain(v, secrets, plain) for k, v in value.items() if k != SIG_KEY}
        return {k: to_plain(v, secrets, plain) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [to_plain(v, secrets, plain) for v in value]
    if isinstance(value, str):
        if value == UNKNOWN:
            return UNKNOWN_MARKER
        if plain is not None:
            plain.add(value)
        return value
    if isinstance(value, float):
        return _number(value)
    return value


def struct_to_plain(
    struct: struct_pb2.Struct, secrets: set[str], plain: set[str] | None = None
) -> dict[str, Any]:
    """A whole property map to plain Python: ``to_plain`` of each value (tested to be the same).

    It reads the ``Value`` messages directly rather than through ``Struct``'s Python mapping API,
    which wraps every access (3x slower over a 1,000-model capture); a map under the signature key
    (secrets, resource references, outputs, assets) is handed to ``to_plain`` itself.
    """
    return {key: _value_to_plain(value, secrets, plain) for key, value in struct.fields.items()}


def _value_to_plain(value: struct_pb2.Value, secrets: set[str], plain: set[str] | None) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return to_plain(value.string_value, secrets, plain)
    if kind == "number_value":
        return _number(value.number_value)
    if kind == "struct_value":
        struct = value.struct_value
        if SIG_KEY in struct.fields:
            return to_plain(struct, secrets, plain)
        return {key: _value_to_plain(item, secrets, plain) for key, item in struct.fields.items()}
    if kind == "list_value":
        return [_value_to_plain(item, secrets, plain) for item in value.list_value.values]
    if kind == "bool_value":
        return value.bool_value
    return None


def _needs_engine_rewrite(struct: struct_pb2.Struct) -> bool:
    """Cheap pre-check: only resource references, output values and internal keys need rewriting."""
    if any(k.startswith("__") for k in struct):
        return True
    raw = struct.SerializeToString()
    return RESOURCE_SIG.encode() in raw or OUTPUT_SIG.encode() in raw


def _engine_value(value: Any) -> Any:
    """One value as the engine marshals it for analyzers (KeepSecrets, KeepUnknowns, no resources)."""
    if isinstance(value, struct_pb2.Struct):
        if SIG_KEY in value:
            sig = value[SIG_KEY]
            if sig == RESOURCE_SIG:
                # MarshalOptions without KeepResources: a custom resource becomes its ID, else its URN.
                ident = _get(value, "id", "")
                return ident if ident else value["urn"]
            if sig == OUTPUT_SIG:
                inner = _engine_value(value["value"]) if "value" in value else UNKNOWN
                if _get(value, "secret", False):
                    return {SIG_KEY: SECRET_SIG, "value": inner}
                return inner
            if sig == SECRET_SIG:
                return {SIG_KEY: SECRET_SIG, "value": _engine_value(value["value"])}
            return {k: _engine_value(v) for k, v in value.items()}
        return {k: _engine_value(v) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_engine_value(v) for v in value]
    return value


def engine_properties(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    """The property map an analyzer receives for ``struct`` (returned as is when nothing changes)."""
    if not _needs_engine_rewrite(struct):
        return struct
    out = struct_pb2.Struct()
    out.update({k: _engine_value(v) for k, v in struct.items() if not k.startswith("__")})
    return out


def plain_to_wire(value: Any, secret_placeholder: str) -> Any:
    """Plain Python (with markers) back to the wire encoding, for hand-built analyzer requests.

    Secret markers become secrets whose value is ``secret_placeholder``: the plaintext is gone.
    """
    if value == SECRET_MARKER:
        return {SIG_KEY: SECRET_SIG, "value": secret_placeholder}
    if value == UNKNOWN_MARKER:
        return UNKNOWN
    if isinstance(value, dict):
        return {str(k): plain_to_wire(v, secret_placeholder) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_to_wire(v, secret_placeholder) for v in value]
    return value


def secret(value: Any) -> dict[str, Any]:
    """Wrap a wire value as a secret."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def wrap_secret_field(struct: struct_pb2.Struct, key: str) -> None:
    """Mark ``struct[key]`` secret in place, unless it already is (additionalSecretOutputs)."""
    current = struct.fields[key]
    inner = current.struct_value.fields if current.HasField("struct_value") else None
    if inner is not None and SIG_KEY in inner and inner[SIG_KEY].string_value == SECRET_SIG:
        return
    wrapped = struct_pb2.Value()
    wrapped.struct_value.fields[SIG_KEY].string_value = SECRET_SIG
    wrapped.struct_value.fields["value"].CopyFrom(current)
    struct.fields[key].CopyFrom(wrapped)


def mask_secret_envelopes(value: Any) -> Any:
    """``value`` (plain JSON, as the engine's events carry inputs) with every secret envelope as
    ``SECRET_MARKER``: the real engine's step inputs keep ``{SIG_KEY: SECRET_SIG, "ciphertext": ...}``
    where the offline capture has already put the marker, so both give the reports the same value.
    """
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return dict(SECRET_MARKER)
        return {key: mask_secret_envelopes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secret_envelopes(item) for item in value]
    return value
