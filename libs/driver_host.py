"""The host commands the namespace-touching drivers share (L3, LB, VPN): one runner,
one error, one way to address a namespace.

``run`` returns stdout; a non-zero exit raises :class:`CommandError` (``check``).
``redact`` keeps only error lines, cut before any ``=`` (a config line could carry a
secret), for commands that echo configuration (swanctl).
"""

from __future__ import annotations

import asyncio


class CommandError(RuntimeError):
    pass


async def run(*cmd: str, stdin: str | None = None, check: bool = True, timeout: float = 30,
              redact: bool = False) -> str:
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE if stdin is not None else None,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), timeout)
    if check and proc.returncode != 0:
        if redact:
            lines = [ln.split("=")[0] for ln in (out + err).decode().splitlines() if "fail" in ln or "rror" in ln]
            raise CommandError(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} -> {proc.returncode}: {lines[-3:]}")
        raise CommandError(f"{' '.join(cmd[:6])}: {err.decode().strip()[-400:]}")
    return out.decode()


def ip(ns: str, *args: str) -> tuple[str, ...]:
    """``ip`` in namespace ``ns`` ("" = ours)."""
    return ("ip", "-n", ns, *args) if ns else ("ip", *args)


def in_netns(ns: str, *cmd: str) -> tuple[str, ...]:
    """Any command inside namespace ``ns`` ("" = ours)."""
    return ("ip", "netns", "exec", ns, *cmd) if ns else cmd
