"""What the VPN worker wants and sees for one router, and the ops between them (values)."""

from __future__ import annotations

import hashlib

import msgspec


class Want(msgspec.Struct, frozen=True, kw_only=True):
    """A router's charon as it should run: its files, the connection names it must
    carry, and the peer CIDRs that must never leave in clear (blackholed in main)."""

    router_id: str
    netns: str
    files: dict[str, str]
    connections: frozenset[str] = frozenset()
    peer_cidrs: frozenset[str] = frozenset()

    @property
    def digest(self) -> str:
        return files_digest(self.files)


class Seen(msgspec.Struct, frozen=True, kw_only=True):
    router_id: str
    netns: str
    netns_exists: bool = False
    dir_exists: bool = False
    files: dict[str, str] = {}                  # relative path -> sha256 of the content on disk
    pid: int = 0                                # our charon (0: none)
    charon_ok: bool = False                     # alive, ours, and in the router's current netns
    loaded_digest: str = ""                     # digest of the files swanctl last loaded
    ike_sas: frozenset[str] = frozenset()       # IKE SA names charon holds
    blackholes: frozenset[str] = frozenset()    # our proto's blackhole routes in main


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def files_digest(files: dict[str, str]) -> str:
    return sha("\n".join(f"{k}:{sha(v)}" for k, v in sorted(files.items())))


class Op(msgspec.Struct, frozen=True, kw_only=True, tag_field="op"):
    router_id: str


class WriteFile(Op, tag="WriteFile", kw_only=True):
    path: str
    text: str

    def __repr__(self) -> str:   # the text may hold a PSK
        return f"WriteFile({self.router_id}, {self.path})"


class DelFile(Op, tag="DelFile", kw_only=True):
    path: str


class StartCharon(Op, tag="StartCharon", kw_only=True):
    netns: str


class StopCharon(Op, tag="StopCharon", kw_only=True):
    pid: int


class LoadAll(Op, tag="LoadAll", kw_only=True):
    digest: str


class Terminate(Op, tag="Terminate", kw_only=True):
    ike: str


class AddBlackhole(Op, tag="AddBlackhole", kw_only=True):
    netns: str
    cidr: str


class DelBlackhole(Op, tag="DelBlackhole", kw_only=True):
    netns: str
    cidr: str


class RemoveDir(Op, tag="RemoveDir", kw_only=True):
    pass


def describe(op: Op) -> dict:
    """An op as loggable data: never the file text (it may hold a PSK)."""
    d = msgspec.to_builtins(op)
    d.pop("text", None)
    return d
