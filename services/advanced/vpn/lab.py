"""A VPN lab (dataplane tests): the L3 lab plus a VPN worker per simulated host, and
VPNaaS API helpers (sites, services, site connections, captures on a router's wire).

Safety as in services/l3/lab.py: namespaces are the cluster's (``nlt<hex>-``); charons
run in router namespaces the L3 worker made, each in its own mount namespace with a
tmpfs /run; ``close`` stops the VPN workers first (so nothing restarts a charon), then
every charon this lab's drivers started, by pid, even when the test failed half-way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

from netledger.services.l3.config import port_name
from netledger.services.l3.lab import L3Lab, sh
from netledger.services.topology.compile_vpn import vpn_bucket

from .config import CHARON, VpnConfig
from .worker import VpnWorker

VPN = "/v2.0/vpn"


def strongswan_missing() -> str:
    """Why a VPN lab cannot run here, or ''."""
    if not os.path.exists(CHARON) or not shutil.which("swanctl"):
        return "strongSwan charon/swanctl not installed"
    if not shutil.which("tcpdump"):
        return "tcpdump not installed"
    return ""


class VpnLab(L3Lab):
    async def start(self) -> None:
        # Short: vici socket paths (<state>/<router uuid>/charon.vici) must fit in 108 bytes.
        self.vpn_state = tempfile.mkdtemp(prefix=f"{self.cluster.prefix}-v")
        self.vpn: dict[str, VpnWorker] = {}
        await super().start()
        for i, h in enumerate(self.cluster.hosts):
            cfg = VpnConfig(host=h.name, netns_prefix=f"{h.netns}-", state_dir=os.path.join(self.vpn_state, str(i)),
                            status_interval=1.0, resync_interval=2.0, heartbeat_interval=1.0)
            w = VpnWorker(self.bus, vpn_bucket(self.prefix), cfg)
            self._spawn(f"vpn:{h.name}", w)
            self.vpn[h.name] = w

    async def close(self) -> None:
        try:
            for key in [k for k in self.tasks if k.startswith("vpn:")]:
                try:
                    await self.stop_worker(key)
                except Exception:  # noqa: BLE001 - teardown goes on
                    pass
            for w in getattr(self, "vpn", {}).values():
                await w.driver.stop_all()
        finally:
            try:
                await super().close()
            finally:
                shutil.rmtree(getattr(self, "vpn_state", ""), ignore_errors=True)

    def charons(self) -> int:
        return sum(len(w.driver.procs) for w in self.vpn.values())

    # --- topology
    async def site(self, ext: dict, cidr: str, host: int) -> dict:
        """A router with a gateway on ``ext``, one tenant subnet, an instance on host ``host``."""
        router = await self.create("router", name=f"r-{cidr}", external_gateway_info={"network_id": ext["id"]})
        net, sub = await self.lan(cidr)
        await self.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
        port, vm = await self.instance(host, net, sub)
        gw = router["external_gateway_info"]["external_fixed_ips"][0]
        return {"router": router, "subnet": sub, "vm": vm, "ip": port["fixed_ips"][0]["ip_address"],
                "gw": gw["ip_address"], "cidr": cidr}

    async def vpn_create(self, coll: str, key: str, **attrs) -> dict:
        return (await self.api("POST", f"{VPN}/{coll}", {key: attrs}))[key]

    async def policies(self) -> tuple[dict, dict]:
        ike = await self.vpn_create("ikepolicies", "ikepolicy", ike_version="v2", encryption_algorithm="aes-256",
                                    auth_algorithm="sha256", pfs="group14")
        ipsec = await self.vpn_create("ipsecpolicies", "ipsecpolicy", encryption_algorithm="aes-256",
                                      auth_algorithm="sha256", pfs="group14")
        return ike, ipsec

    async def service(self, s: dict) -> None:
        """A VPN service on the site's router and the local endpoint group (its subnet)."""
        s["service"] = await self.vpn_create("vpnservices", "vpnservice", router_id=s["router"]["id"])
        s["local"] = await self.vpn_create("endpoint-groups", "endpoint_group", type="subnet",
                                           endpoints=[s["subnet"]["id"]])

    async def connect(self, a: dict, b: dict, policies: tuple[dict, dict], psk: str) -> dict:
        """A site connection from ``a``'s service to ``b``'s gateway and subnet."""
        peer = await self.vpn_create("endpoint-groups", "endpoint_group", type="cidr", endpoints=[b["cidr"]])
        ike, ipsec = policies
        return await self.vpn_create(
            "ipsec-site-connections", "ipsec_site_connection", peer_address=b["gw"], peer_id=b["gw"], psk=psk,
            vpnservice_id=a["service"]["id"], ikepolicy_id=ike["id"], ipsecpolicy_id=ipsec["id"],
            local_ep_group_id=a["local"]["id"], peer_ep_group_id=peer["id"],
            dpd={"action": "restart", "interval": 5, "timeout": 20})

    def conn_status(self, conn: dict) -> str | None:
        status, body = self._call("GET", f"{VPN}/ipsec-site-connections/{conn['id']}")
        return body["ipsec_site_connection"]["status"] if status == 200 else None

    def router_host(self, s: dict) -> str:
        return self._call("GET", f"/v2.0/routers/{s['router']['id']}/l3-agents")[1]["agents"][0]["host"]

    def router_ns_and_qg(self, s: dict) -> tuple[str, str]:
        rid = s["router"]["id"]
        ports = self._call("GET", f"/v2.0/ports?device_id={rid}&device_owner=network:router_gateway")[1]["ports"]
        return self.l3[self.router_host(s)].cfg.netns(rid), port_name("qg", ports[0]["id"])


def capture_while(ns: str, dev: str, action, seconds: float = 4.0) -> str:
    """tcpdump on a router's external port (inside its namespace) while ``action`` runs;
    the decoded lines. tcpdump is stopped by pid."""
    cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-nn", "-l", "-i", dev, "-c", "400",
                            "not arp and not ip6"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        sh("sleep", "1")           # tcpdump attaches
        action()
        sh("sleep", str(seconds / 4))
    finally:
        cap.terminate()
        out, _ = cap.communicate(timeout=10)
    return out


def concurrently(*checks) -> list:
    """Run blocking checks (pings) at the same time, each in its own thread; their results."""
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        return list(pool.map(lambda check: check(), checks))
