"""oslo.policy-style check strings, evaluated purely (no I/O, no globals).

A rule maps a name (``create_network``, ``create_network:shared``) to a check string:
``role:admin``, ``rule:<name>``, ``project_id:%(project_id)s``, ``is_admin:True``,
``field:networks:shared=True``, ``'*':%(target_tenant)s``, combined with ``and``,
``or``, ``not`` and parentheses; ``@`` always passes, ``!`` never does.

Invariant: ``Policy.enforce`` is a pure function of (rules, credentials, target); an
unknown rule name falls back to ``default`` (Neutron's behaviour), a rule that refers
to a missing rule fails closed, and a recursive rule fails closed instead of looping.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32


class PolicySyntaxError(ValueError):
    """A check string that cannot be parsed."""


@dataclass(frozen=True)
class Node:
    """One parsed check: op is 'and', 'or', 'not', 'true', 'false' or 'check'."""

    op: str
    args: tuple = ()
    kind: str = ""
    match: str = ""


def parse(text: str) -> Node:
    """Parse a check string (empty means always allowed, as in oslo.policy)."""
    tokens = _tokens(text or "")
    if not tokens:
        return Node("true")
    node, rest = _parse_or(tokens)
    if rest:
        raise PolicySyntaxError(f"unexpected {rest[0]!r} in {text!r}")
    return node


def _tokens(text: str) -> list[str]:
    """Split on whitespace, then peel parentheses off each word (as oslo.policy does,
    so ``%(project_id)s`` inside a check stays whole)."""
    out: list[str] = []
    for word in text.split():
        lead = len(word) - len(word.lstrip("("))
        word = word[lead:]
        trail = len(word) - len(word.rstrip(")"))
        out += ["("] * lead
        if word[: len(word) - trail]:
            out.append(word[: len(word) - trail])
        out += [")"] * trail
    return out


def _parse_or(tokens: list[str]) -> tuple[Node, list[str]]:
    left, rest = _parse_and(tokens)
    items = [left]
    while rest and rest[0].lower() == "or":
        right, rest = _parse_and(rest[1:])
        items.append(right)
    return (items[0] if len(items) == 1 else Node("or", tuple(items))), rest


def _parse_and(tokens: list[str]) -> tuple[Node, list[str]]:
    left, rest = _parse_not(tokens)
    items = [left]
    while rest and rest[0].lower() == "and":
        right, rest = _parse_not(rest[1:])
        items.append(right)
    return (items[0] if len(items) == 1 else Node("and", tuple(items))), rest


def _parse_not(tokens: list[str]) -> tuple[Node, list[str]]:
    if not tokens:
        raise PolicySyntaxError("check string ends too early")
    if tokens[0].lower() == "not":
        inner, rest = _parse_not(tokens[1:])
        return Node("not", (inner,)), rest
    if tokens[0] == "(":
        inner, rest = _parse_or(tokens[1:])
        if not rest or rest[0] != ")":
            raise PolicySyntaxError("missing ')'")
        return inner, rest[1:]
    return _atom(tokens[0]), tokens[1:]


def _atom(token: str) -> Node:
    if token == "@":
        return Node("true")
    if token == "!":
        return Node("false")
    if ":" not in token:
        raise PolicySyntaxError(f"not a check: {token!r}")
    kind, match = token.split(":", 1)
    return Node("check", kind=kind, match=match)


@dataclass(frozen=True)
class Credentials:
    """What the caller is: from a Keystone token or the noauth headers."""

    user_id: str = ""
    project_id: str = ""
    domain_id: str = ""
    roles: tuple[str, ...] = ()
    is_admin: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "project_id": self.project_id, "tenant_id": self.project_id,
                "domain_id": self.domain_id, "roles": list(self.roles), "is_admin": self.is_admin}


class Policy:
    """A set of named rules (defaults overlaid by a policy file)."""

    def __init__(self, rules: Mapping[str, str]) -> None:
        self.rules = {name: parse(text) for name, text in rules.items()}

    def has(self, name: str) -> bool:
        return name in self.rules

    def enforce(self, name: str, creds: Credentials, target: Mapping[str, Any]) -> bool:
        """Whether rule ``name`` allows ``creds`` on ``target`` (unknown -> 'default')."""
        node = self.rules.get(name) or self.rules.get("default")
        if node is None:
            return False
        return self._eval(node, creds.as_dict(), target, 0)

    def _eval(self, node: Node, creds: dict, target: Mapping[str, Any], depth: int) -> bool:
        if depth > MAX_DEPTH:
            return False  # a rule that refers to itself: fail closed
        op = node.op
        if op == "true":
            return True
        if op == "false":
            return False
        if op == "not":
            return not self._eval(node.args[0], creds, target, depth + 1)
        if op == "and":
            return all(self._eval(a, creds, target, depth + 1) for a in node.args)
        if op == "or":
            return any(self._eval(a, creds, target, depth + 1) for a in node.args)
        return self._check(node, creds, target, depth)

    def _check(self, node: Node, creds: dict, target: Mapping[str, Any], depth: int) -> bool:
        kind, match = node.kind, node.match
        if kind == "rule":
            sub = self.rules.get(match)
            return sub is not None and self._eval(sub, creds, target, depth + 1)
        if kind == "role":
            return match.lower() in {r.lower() for r in creds["roles"]}
        if kind == "field":
            return _field_check(match, target)
        return _generic_check(kind, match, creds, target)


def _field_check(match: str, target: Mapping[str, Any]) -> bool:
    """Neutron's ``field:<collection>:<attr>=<value>`` (value may be a Python literal)."""
    try:
        _resource, rest = match.split(":", 1)
        attr, value = rest.rsplit("=", 1)
    except ValueError:
        return False
    if attr not in target:
        return False
    return _normal(target[attr]) == _normal(_literal(value))


def _generic_check(kind: str, match: str, creds: dict, target: Mapping[str, Any]) -> bool:
    """oslo.policy's GenericCheck: ``%(attr)s`` comes from the target; the left side is
    a literal (``'*'``, ``True``) or a credential key (``project_id``, ``is_admin``)."""
    try:
        wanted = match % _Missing(target)
    except (KeyError, TypeError, ValueError):
        return False
    try:
        left = ast.literal_eval(kind)
    except (ValueError, SyntaxError):
        if kind not in creds:
            return False
        left = creds[kind]
    return _normal(left) == _normal(wanted)


class _Missing(dict):
    """Target lookup for ``%`` formatting: a missing key fails the check."""

    def __init__(self, target: Mapping[str, Any]) -> None:
        super().__init__(target)

    def __missing__(self, key):
        raise KeyError(key)


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _normal(value: Any) -> str:
    """Compare as oslo does: by string form, booleans case-insensitively."""
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    return text.lower() if text.lower() in ("true", "false") else text
