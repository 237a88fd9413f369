"""The one intent publisher: diff compiled intents against what the bucket holds, write
only the difference (L2, SG, DHCP, L3, LB, VPN all publish through here).

Workers are level-triggered on KV keys, so an unchanged value must never be
re-written (it would wake every watcher); deleting a key means "none of it".
"""

from __future__ import annotations

from .compile_l2 import diff


async def write_diff(kv, before: dict[str, bytes], desired: dict[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """Put what changed, delete what is gone; returns (puts, deletes)."""
    puts, deletes = diff(before, desired)
    for key, value in puts.items():
        await kv.put(key, value)
    for key in deletes:
        await kv.delete(key)
    return puts, deletes


async def publish_owner(kv, published: dict[str, dict[str, bytes]], owner: str,
                        desired: dict[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """Publish ``owner``'s keys (a network, router, LB) and record them in ``published``
    only once written: a failed put leaves the old record, so the next sync retries."""
    puts, deletes = await write_diff(kv, published.get(owner, {}), desired)
    if desired:
        published[owner] = desired
    else:
        published.pop(owner, None)
    return puts, deletes
