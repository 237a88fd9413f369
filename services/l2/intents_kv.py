"""Write/delete L2 intents in the KV bucket (what topology does; used by tests and bench)."""

from __future__ import annotations

import msgspec

from netledger.libs.events.intents import L2Network, L2Port, network_key, port_key
from netledger.libs.events.subjects import host_token

_enc = msgspec.json.Encoder()


def key_of(host: str, intent: L2Port | L2Network) -> str:
    if isinstance(intent, L2Port):
        return port_key(host_token(host), intent.port_id)
    return network_key(host_token(host), intent.network_id)


async def put(kv, host: str, intent: L2Port | L2Network) -> int:
    return await kv.put(key_of(host, intent), _enc.encode(intent))


async def delete_port(kv, host: str, port_id: str) -> None:
    await kv.delete(port_key(host_token(host), port_id))


async def delete_network(kv, host: str, network_id: str) -> None:
    await kv.delete(network_key(host_token(host), network_id))
