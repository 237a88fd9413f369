"""LXC hooks -> CNI commands: LXC has no CNI support of its own, its hooks drive the plugin.

In the container's config (``lxc.net.0.type = empty``)::

    lxc.hook.start-host = /opt/cni/bin/netledger-cni lxc-hook /etc/netledger/lxc-net.json
    lxc.hook.post-stop  = /opt/cni/bin/netledger-cni lxc-hook /etc/netledger/lxc-net.json

LXC appends ``<name> lxc <hook type>`` and sets LXC_NAME / LXC_PID; start-host runs in the
host namespace once the container's namespaces exist, post-stop after they are gone (so
DEL runs without a netns, which the plugin accepts). The container id is the LXC name.
"""

from __future__ import annotations

HOOK_COMMANDS = {"start-host": "ADD", "post-stop": "DEL"}


def hook_env(argv: list[str], env: dict[str, str], ifname: str = "eth0") -> dict[str, str]:
    """CNI environment for one hook call; argv = [conf path, name, "lxc", hook type]."""
    hook = env.get("LXC_HOOK_TYPE") or (argv[3] if len(argv) > 3 else "")
    if hook not in HOOK_COMMANDS:
        raise ValueError(f"lxc-hook: unsupported hook {hook!r} (use start-host and post-stop)")
    out = {"CNI_COMMAND": HOOK_COMMANDS[hook], "CNI_CONTAINERID": env.get("LXC_NAME") or argv[1],
           "CNI_IFNAME": env.get("NETLEDGER_CNI_IFNAME", ifname), "CNI_PATH": env.get("CNI_PATH", "/opt/cni/bin")}
    if hook == "start-host":
        out["CNI_NETNS"] = f"/proc/{env['LXC_PID']}/ns/net"
    return out
