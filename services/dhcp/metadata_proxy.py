"""The metadata proxy: one process per DHCP namespace, answering on 169.254.169.254:80.

Started by the DHCP worker, it listens inside ``qdhcp-<network>`` (``--netns``) and knows
the caller by source address + network (its configuration, rendered by
``render_metadata``, maps the network's addresses to ports) and answers for that
port only. With a ``backend_url`` it forwards the request there with Neutron's
metadata-agent headers (X-Instance-ID, X-Neutron-Port-ID, X-Neutron-Network-ID,
X-Tenant-ID, X-Forwarded-For), the way Neutron's proxy reaches Nova; without one a
small built-in responder serves OpenStack- and EC2-style paths.

Standard library only (it starts once per network and must start fast). The
configuration file is re-read when its mtime changes, so the worker never restarts
the proxy for port changes. Unknown callers get 404.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLONE_NEWNET = 0x40000000
EC2_KEYS = ("instance-id", "hostname", "local-hostname", "local-ipv4", "mac", "placement/availability-zone")


class Config:
    """The rendered JSON, reloaded when the file changes (thread-safe)."""

    def __init__(self, path: str) -> None:
        self.path, self.mtime, self.doc, self.lock = path, -1.0, {}, threading.Lock()

    def current(self) -> dict:
        with self.lock:
            try:
                mtime = os.stat(self.path).st_mtime
                if mtime != self.mtime:
                    with open(self.path) as fh:
                        self.doc, self.mtime = json.load(fh), mtime
            except (OSError, ValueError):
                pass                     # keep the last good configuration
            return self.doc


def meta_data(inst: dict) -> dict:
    return {"uuid": inst["device_id"] or inst["port_id"], "name": inst["hostname"], "hostname": inst["fqdn"],
            "launch_index": 0, "availability_zone": "nova", "project_id": inst["project_id"],
            "public_keys": {}, "meta": {"port_id": inst["port_id"], "network_id": inst["network_id"]}}


def network_data(inst: dict) -> dict:
    link = {"id": f"tap{inst['port_id'][:11]}", "type": "phy", "ethernet_mac_address": inst["mac_address"],
            "mtu": inst["mtu"], "vif_id": inst["port_id"]}
    nets, services = [], []
    for i, a in enumerate(inst["addresses"]):
        nets.append({"id": f"network{i}", "type": "ipv4" if a.get("ip_version", 4) == 4 else "ipv6",
                     "link": link["id"], "ip_address": a["ip_address"], "netmask": a.get("netmask"),
                     "network_id": inst["network_id"], "routes": a.get("routes", []),
                     "services": [{"type": "dns", "address": d} for d in a.get("dns_nameservers", [])]})
        services += [{"type": "dns", "address": d} for d in a.get("dns_nameservers", [])]
    return {"links": [link], "networks": nets, "services": services}


def ec2(inst: dict, key: str) -> str | None:
    first = inst["addresses"][0]["ip_address"] if inst["addresses"] else ""
    values = {"instance-id": inst["device_id"] or inst["port_id"], "hostname": inst["fqdn"],
              "local-hostname": inst["fqdn"], "local-ipv4": first, "mac": inst["mac_address"],
              "placement/availability-zone": "nova"}
    if key in ("", "/"):
        return "\n".join(EC2_KEYS)
    return values.get(key.strip("/"))


def respond_builtin(inst: dict, path: str) -> tuple[int, str, str]:
    """(status, content type, body) of the built-in responder."""
    path = path.split("?", 1)[0]
    for version in ("latest", "2017-02-22", "2016-10-06", "2013-10-17"):
        base = f"/openstack/{version}/"
        if path == base + "meta_data.json":
            return 200, "application/json", json.dumps(meta_data(inst))
        if path == base + "network_data.json":
            return 200, "application/json", json.dumps(network_data(inst))
    if path in ("/openstack", "/openstack/"):
        return 200, "text/plain", "latest\n"
    for prefix in ("/latest/meta-data", "/2009-04-04/meta-data"):
        if path.startswith(prefix):
            value = ec2(inst, path[len(prefix):])
            return (200, "text/plain", value) if value is not None else (404, "text/plain", "Not Found")
    return 404, "text/plain", "Not Found"


def forward(backend: str, inst: dict, path: str, caller: str) -> tuple[int, str, str]:
    headers = {"X-Instance-ID": inst["device_id"], "X-Neutron-Port-ID": inst["port_id"],
               "X-Neutron-Network-ID": inst["network_id"], "X-Tenant-ID": inst["project_id"],
               "X-Forwarded-For": caller}
    req = urllib.request.Request(backend.rstrip("/") + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", "text/plain"), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, "text/plain", exc.read().decode(errors="replace")
    except OSError as exc:
        return 502, "text/plain", f"metadata backend unreachable: {exc}"


def make_handler(config: Config):
    class Handler(BaseHTTPRequestHandler):
        server_version = "netledger-metadata"

        def do_GET(self) -> None:       # noqa: N802 - http.server's naming
            doc, caller = config.current(), self.client_address[0]
            inst = doc.get("by_ip", {}).get(caller)
            if inst is None:
                status, ctype, body = 404, "text/plain", "Not Found"
            elif doc.get("backend_url"):
                status, ctype, body = forward(doc["backend_url"], inst, self.path, caller)
            else:
                status, ctype, body = respond_builtin(inst, self.path)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args) -> None:
            pass                         # the worker logs; per-request lines are noise

    return Handler


def listen_in(netns: str, addr: tuple[str, int], handler) -> ThreadingHTTPServer:
    """Bind the listening socket inside ``netns``, then return to our own namespace.

    A socket stays in the namespace it was created in; everything else this process
    does (connections to the backend URL) happens where it was started, the way
    Neutron's metadata agent bridges the namespace and the host network.
    """
    if not netns:
        return ThreadingHTTPServer(addr, handler)
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
        try:
            return ThreadingHTTPServer(addr, handler)
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(home)
        os.close(target)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="netledger-metadata-proxy")
    ap.add_argument("--config", required=True)
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--netns", default="", help="namespace to listen in (default: ours)")
    ap.add_argument("--bind", default="169.254.169.254")
    ap.add_argument("--port", type=int, default=80)
    args = ap.parse_args(argv)
    server = listen_in(args.netns, (args.bind, args.port), make_handler(Config(args.config)))
    with open(args.pid_file + ".new", "w") as fh:
        fh.write(f"{os.getpid()}\n")
    os.replace(args.pid_file + ".new", args.pid_file)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
