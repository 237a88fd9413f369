"""Build one fully populated sample of a msgspec struct type, deterministically.

Every field gets a value that is not its default (strings name their field, numbers
are small and non-zero, optional fields are set, collections hold one element), so a
golden file written from a sample pins every field of that version's shape. Used by
``make_golden`` to write ``tests/contract/golden/``; the contract test only reads.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import inspect as mi


def sample(tp: Any) -> Any:
    return _value(mi.type_info(tp), "x")


def _value(t: mi.Type, name: str) -> Any:  # noqa: C901 - one case per msgspec type kind
    match t:
        case mi.StructType():
            kwargs = {f.name: _value(f.type, f.name) for f in t.fields}
            return t.cls(**kwargs)
        case mi.UnionType():
            non_null = [x for x in t.types if not isinstance(x, mi.NoneType)]
            return _value(non_null[0], name) if non_null else None
        case mi.StrType():
            return _str(name)
        case mi.BoolType():
            return True
        case mi.IntType():
            return 7 if t.ge is None or t.ge <= 7 else t.ge
        case mi.FloatType():
            return 1.5
        case mi.LiteralType():
            return t.values[0]
        case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
            items = [_value(t.item_type, name)]
            return tuple(items) if isinstance(t, mi.VarTupleType) else (
                frozenset(items) if isinstance(t, mi.FrozenSetType) else set(items) if isinstance(t, mi.SetType)
                else items)
        case mi.TupleType():
            return tuple(_value(x, name) for x in t.item_types)
        case mi.DictType():
            return {_value(t.key_type, "key"): _value(t.value_type, name)}
        case mi.AnyType():
            return name
        case mi.NoneType():
            return None
    raise TypeError(f"no sample for {t!r} ({name})")


def _str(name: str) -> str:
    """Plausible text: ids look like UUIDs, addresses like addresses (renderers parse them)."""
    if name.endswith("id") or name.endswith("_ids") or name == "id":
        return "11111111-2222-4333-8444-555555555555"
    if "cidr" in name or name.endswith("_ts") or name in ("destination", "subnet", "prefix"):
        return "10.0.0.0/24"
    if "mac" in name:
        return "fa:16:3e:00:00:01"
    if name.endswith("ip") or "address" in name or name in ("gateway", "nexthop", "peer"):
        return "10.0.0.5"
    if name in ("time", "created_at", "updated_at", "started_at"):
        return "2026-01-01T00:00:00Z"
    return f"{name}-sample"


def to_json(value: Any) -> bytes:
    return msgspec.json.format(msgspec.json.encode(value), indent=2) + b"\n"
