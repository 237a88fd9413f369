"""A fake VPN host: charon/file/route ops applied to an in-memory ``Seen`` (pure)."""

from __future__ import annotations

import msgspec

from netledger.services.advanced.vpn import model as M


def apply(s: M.Seen, ops: list[M.Op]) -> M.Seen:
    """What observing the router after the driver applied ``ops`` would show."""
    files, holes, sas = dict(s.files), set(s.blackholes), set(s.ike_sas)
    pid, ok, loaded, dir_exists = s.pid, s.charon_ok, s.loaded_digest, s.dir_exists
    for op in ops:
        match op:
            case M.WriteFile():
                files[op.path], dir_exists = M.sha(op.text), True
            case M.DelFile():
                files.pop(op.path, None)
            case M.AddBlackhole():
                holes.add(op.cidr)
            case M.DelBlackhole():
                holes.discard(op.cidr)
            case M.StopCharon():
                pid, ok, loaded, sas = 0, False, "", set()
            case M.StartCharon():
                pid, ok, loaded = 4242, True, ""
            case M.LoadAll():
                loaded = op.digest
            case M.Terminate():
                sas.discard(op.ike)
            case M.RemoveDir():
                files, dir_exists, loaded = {}, False, ""
    return msgspec.structs.replace(s, files=files, blackholes=frozenset(holes), ike_sas=frozenset(sas), pid=pid,
                                   charon_ok=ok, loaded_digest=loaded, dir_exists=dir_exists)
