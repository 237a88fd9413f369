"""An LB lab (dataplane tests and bench_lb): the L3 lab plus an LB worker per host,
HTTP backends that answer with their own name, and Octavia API helpers.

Safety as in services/l3/lab.py: every namespace carries the cluster's run prefix,
backend servers are stopped by pid, LB state lives in the lab's temp directory.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from netledger.services.l3.lab import L3Lab, sh
from netledger.services.topology.schedule_lb import lb_bucket

from .config import LbConfig
from .worker import LbWorker

BACKEND = r"""
import http.server, sys, time
NAME = sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(float(self.path.split("=")[-1]) if "=" in self.path else 3)
        body = (NAME + ("-api" if self.path.startswith("/api") else "")).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


class LbLab(L3Lab):
    async def start(self) -> None:
        await super().start()
        self.lb: dict[str, LbWorker] = {}
        for h in self.cluster.hosts:
            cfg = LbConfig(host=h.name, ovsdb=h.ovsdb, host_netns=h.netns, netns_prefix=f"{h.netns}-",
                           state_dir=os.path.join(self.workdir, f"lb-{h.name}"), resync_interval=2.0,
                           heartbeat_interval=1.0, stats_interval=0.5)
            w = LbWorker(self.bus, lb_bucket(self.prefix), cfg)
            self._spawn(f"lb:{h.name}", w)
            self.lb[h.name] = w
            await asyncio.wait_for(w.synced.wait(), 30)

    def backend(self, ns: str, ip: str, name: str, port: int = 8080) -> None:
        key = f"be:{ns}:{port}"
        self.procs[key] = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", BACKEND, ip, str(port),
                                            name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_backend(self, ns: str, port: int = 8080) -> None:
        proc = self.procs.pop(f"be:{ns}:{port}")
        proc.terminate()
        proc.wait(10)

    # --- Octavia API
    async def lbaas(self, method: str, path: str, body=None, ok=(200, 201, 202, 204)):
        return await self.api(method, f"/v2/lbaas/{path}", body, ok)

    async def make(self, kind: str, path: str, **attrs) -> dict:
        """Create, then wait until the load balancer is ACTIVE again (Octavia's rule:
        the next write to it would be refused while it is PENDING_*)."""
        out = (await self.lbaas("POST", path, {kind: attrs}))[kind]
        lb_id = out["id"] if kind == "loadbalancer" else self.current_lb
        await self.wait_active(lb_id)
        return out

    async def wait_active(self, lb_id: str, timeout: float = 60) -> float:
        self.current_lb = lb_id
        return await self.wait(lambda: self._prov(lb_id) == "ACTIVE", timeout, f"LB {lb_id} ACTIVE")

    def _prov(self, lb_id: str) -> str:
        status, body = self._call("GET", f"/v2/lbaas/loadbalancers/{lb_id}")
        return body["loadbalancer"]["provisioning_status"] if status == 200 else ""

    def tree(self, lb_id: str) -> dict:
        return self._call("GET", f"/v2/lbaas/loadbalancers/{lb_id}/status")[1]["statuses"]["loadbalancer"]

    def lb_netns(self) -> list[str]:
        return [n for n in sh("ip", "netns", "list").stdout.split() if "qlbaas-" in n]
