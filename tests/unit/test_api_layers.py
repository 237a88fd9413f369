"""The API's layering, checked on its import graph (function-level imports included).

http/ (routing, bodies, errors) -> commands/ (snapshots + executor) -> deciders/ (pure).
No import circles anywhere in services/api; no handler module imports another; no
command imports HTTP; deciders reach no store, bus, clock or web framework.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import netledger.services.api as api_pkg

ROOT = Path(api_pkg.__file__).parent
PKG = "netledger.services.api"
# http/ modules that hold shared HTTP helpers or the route table, not handlers.
HTTP_HELPERS = {"http", "http.common", "http.bulk", "http.octavia_common", "http.routes"}
# What a decision must never touch, directly or through the API modules it imports.
IMPURE_INTERNAL = ("store", "store_quota", "claims_view", "writer", "position", "app", "janitor", "services",
                   "http", "commands", "auth")
IMPURE_EXTERNAL = ("sqlite3", "nats", "aiohttp", "time", "datetime", "asyncio", "netledger.libs.bus",
                   "netledger.services.topology")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str, current: str, is_pkg: bool, level: int, alias: str | None) -> str | None:
    """Our module an ImportFrom names (``from .. import x`` -> x if it is a module)."""
    base = current.split(".") if current else []
    if not is_pkg:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    target = ".".join([*base, *([name] if name else [])])
    if alias and (f"{target}.{alias}" if target else alias) in MODULES:
        return f"{target}.{alias}" if target else alias
    return target if target in MODULES else None


def _edges(mod: str) -> tuple[set[str], set[str]]:
    """(our modules imported, external modules imported) by ``mod``."""
    path = MODULES[mod]
    tree = ast.parse(path.read_text())
    ours, ext = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith(PKG):
                    rest = node.module[len(PKG) + 1:]
                    for a in node.names:
                        hit = _resolve(rest, "", True, 1, a.name) if rest else (a.name if a.name in MODULES else None)
                        if hit is not None:
                            ours.add(hit)
                elif node.module != "__future__":
                    ext.add(node.module or "")
                continue
            for a in node.names:
                hit = _resolve(node.module or "", mod, path.name == "__init__.py", node.level, a.name)
                if hit is not None:
                    ours.add(hit)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PKG + "."):
                    ours.add(a.name[len(PKG) + 1:])
                else:
                    ext.add(a.name)
    ours.discard(mod)
    return ours, ext


GRAPH = {m: _edges(m) for m in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v][0]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def _is_handler(mod: str) -> bool:
    return mod.startswith("http.") and mod not in HTTP_HELPERS


def _closure(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        for n in GRAPH[m][0]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def test_the_graph_sees_the_three_layers():
    # Guard against a walker that finds nothing (and so passes everything).
    assert {"http.port", "commands.port", "deciders.port"} <= set(MODULES)
    assert "commands.port" in GRAPH["http.port"][0]
    assert "deciders.port" in GRAPH["commands.port"][0]


def test_no_import_circles_in_the_api():
    assert _cycles() == []


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if _is_handler(m)))
def test_handlers_import_no_other_handler(mod):
    assert sorted(n for n in GRAPH[mod][0] if _is_handler(n)) == []


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if m.startswith("commands")))
def test_commands_never_import_http(mod):
    assert sorted(n for n in GRAPH[mod][0] if n == "http" or n.startswith("http.")) == []


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if m.startswith("deciders")))
def test_deciders_reach_no_store_bus_or_clock(mod):
    reached = _closure(mod) | {mod}
    internal = sorted(n for n in reached if n.split(".")[0] in IMPURE_INTERNAL)
    external = sorted(e for n in reached for e in GRAPH[n][1]
                      if any(e == x or e.startswith(x + ".") for x in IMPURE_EXTERNAL))
    assert (internal, external) == ([], [])
