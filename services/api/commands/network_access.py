"""Which network a subnet or port may be created on (shared reads of the commands)."""

from __future__ import annotations

from netledger.errors import NotFound


def visible_network(svc, ctx, network_id: str) -> tuple[dict, int]:
    """The network a subnet/port goes on: own project, shared, or any for admins;
    with the sequence of its subject tree (what the create's fact expects)."""
    try:
        net, _ = svc.reader.get("network", network_id, ctx.scope(), shared_ok=True)
    except NotFound:
        raise NotFound(f"Network {network_id} could not be found.", type="NetworkNotFound") from None
    return net, svc.reader.network_tree_seq(network_id)
