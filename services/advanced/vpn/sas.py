"""Parse ``swanctl --list-sas --raw`` into SA states (pure).

The raw format is vici's message dump: ``name {key=value list=[a b] section {...}}``,
one ``list-sa event {...}`` per IKE SA. We keep, per IKE SA name, its state and the
states of its CHILD SAs; a connection is up when an ESTABLISHED IKE SA of its name
holds an INSTALLED CHILD SA.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"([\w.-]+)\s*\{|\}|([\w.-]+)=\[([^\]]*)\]|([\w.-]+)=([^\s{}\[\]]*)")


def parse(text: str) -> list[dict]:
    """Each top-level section as nested dicts (lists as lists of strings)."""
    stack: list[dict] = [{}]
    out: list[dict] = []
    for m in _TOKEN.finditer(text):
        if m.group(1):
            child: dict = {}
            stack[-1][m.group(1)] = child
            stack.append(child)
        elif m.group(0) == "}":
            if len(stack) > 1:
                stack.pop()
            if len(stack) == 1 and stack[0]:
                out.append(stack[0])
                stack = [{}]
        elif m.group(2):
            stack[-1][m.group(2)] = m.group(3).split()
        else:
            stack[-1][m.group(4)] = m.group(5)
    return out


def ike_states(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """IKE SA name -> (best IKE state, CHILD SA states); ESTABLISHED wins over others."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for event in parse(text):
        for sas in event.values():
            for name, sa in sas.items():
                if not isinstance(sa, dict):
                    continue
                children = tuple(c.get("state", "") for c in sa.get("child-sas", {}).values() if isinstance(c, dict))
                state = sa.get("state", "")
                prev = out.get(name)
                if prev is None or (state == "ESTABLISHED" and "INSTALLED" in children):
                    out[name] = (state, children)
    return out


def connection_up(states: dict[str, tuple[str, tuple[str, ...]]], name: str) -> bool:
    state, children = states.get(name, ("", ()))
    return state == "ESTABLISHED" and "INSTALLED" in children
