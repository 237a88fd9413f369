"""The CNI contract without a runtime: request parsing, error codes, result rendering, GC choice."""

from __future__ import annotations

import json

import pytest

from netledger.services.cni import spec
from netledger.services.cni.plugin import run
from netledger.services.cni.spec import CniError

CONF = {"cniVersion": "1.1.0", "name": "nl", "type": "netledger-cni", "network": "n1"}
ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/opt/cni/bin:/usr/lib/cni"}


def conf(**kw) -> bytes:
    return json.dumps({**CONF, **kw}).encode()


@pytest.mark.parametrize("env,stdin,code", [
    ({**ENV, "CNI_COMMAND": "FROB"}, conf(), spec.E_ENV),
    ({k: v for k, v in ENV.items() if k != "CNI_NETNS"}, conf(), spec.E_ENV),
    ({k: v for k, v in ENV.items() if k != "CNI_CONTAINERID"}, conf(), spec.E_ENV),
    ({**ENV, "CNI_IFNAME": "a-very-long-interface-name"}, conf(), spec.E_ENV),
    ({**ENV, "CNI_ARGS": "IgnoreUnknown"}, conf(), spec.E_ENV),
    (ENV, b"{not json", spec.E_DECODE),
    (ENV, b"[1]", spec.E_DECODE),
    (ENV, conf(cniVersion="0.4.0"), spec.E_VERSION),
    (ENV, conf(cniVersion="9.9.9"), spec.E_VERSION),
    ({**ENV, "CNI_COMMAND": "GC"}, conf(cniVersion="1.0.0"), spec.E_VERSION),
    (ENV, conf(ipam={"type": "host-local"}), spec.E_UNSUPPORTED),
    (ENV, conf(network=""), spec.E_CONFIG),
    (ENV, conf(backend="vpp"), spec.E_CONFIG),
    (ENV, conf(ip="10.0.0.300"), spec.E_CONFIG),
    (ENV, conf(security_groups="default"), spec.E_CONFIG),
    (ENV, conf(api={"url": "http://x", "bogus": 1}), spec.E_CONFIG),
])
def test_bad_requests_are_error_objects_with_the_spec_code(env, stdin, code):
    rc, out = run(env, stdin)
    assert rc == 1 and out["code"] == code and out["msg"]
    assert out["cniVersion"] in spec.SUPPORTED_VERSIONS


def test_del_needs_no_netns_and_args_parse():
    env = {k: v for k, v in ENV.items() if k != "CNI_NETNS"}
    req = spec.parse_request({**env, "CNI_COMMAND": "DEL", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p"}, conf())
    assert req.netns == "" and req.args == (("IgnoreUnknown", "1"), ("K8S_POD_NAME", "p"))
    assert req.path == ("/opt/cni/bin", "/usr/lib/cni")


def test_gc_and_status_need_no_container():
    req = spec.parse_request({"CNI_COMMAND": "GC", "CNI_PATH": "/x"},
                             conf(**{"cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}]}))
    assert spec.valid_attachments(req.conf) == {("a", "eth0")}


def test_version_answers_whatever_the_config():
    for stdin, want in ((b"", "1.1.0"), (b'{"cniVersion": "1.0.0"}', "1.0.0"), (b"junk", "1.1.0")):
        rc, out = run({"CNI_COMMAND": "VERSION"}, stdin)
        assert rc == 0 and out == {"cniVersion": want, "supportedVersions": ["1.0.0", "1.1.0"]}


def test_unreachable_api_is_try_again_later():
    rc, out = run({**ENV, "CNI_COMMAND": "DEL"}, conf(api={"url": "http://127.0.0.1:1", "timeout": 2}))
    assert rc == 1 and out["code"] == spec.E_AGAIN


def test_status_unreachable_api_is_plugin_not_available():
    rc, out = run({"CNI_COMMAND": "STATUS"}, conf(api={"url": "http://127.0.0.1:1", "timeout": 2}))
    assert rc == 1 and out["code"] == spec.E_UNAVAILABLE


PORT = {"mac_address": "fa:16:3e:00:00:01", "fixed_ips": [
    {"subnet_id": "s4", "ip_address": "10.1.0.5"}, {"subnet_id": "s6", "ip_address": "fd00::5"}]}
SUBNETS = {"s4": {"cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.1", "dns_nameservers": ["10.1.0.2"],
                  "host_routes": [{"destination": "192.168.0.0/16", "nexthop": "10.1.0.254"}]},
           "s6": {"cidr": "fd00::/64", "gateway_ip": None}}


def test_attachment_and_result_from_port_and_subnets():
    att = spec.attachment(PORT, SUBNETS, 1400, "eth1")
    assert [a.cidr for a in att.addrs] == ["10.1.0.5/24", "fd00::5/64"]
    assert [(r.dst, r.gw) for r in att.routes] == [("0.0.0.0/0", "10.1.0.1"), ("192.168.0.0/16", "10.1.0.254")]
    res = spec.render_result("1.1.0", att, "/run/netns/x", "tapabc")
    assert res["interfaces"] == [{"name": "tapabc"}, {"name": "eth1", "mac": PORT["mac_address"],
                                                       "sandbox": "/run/netns/x", "mtu": 1400}]
    assert res["ips"] == [{"address": "10.1.0.5/24", "interface": 1, "gateway": "10.1.0.1"},
                          {"address": "fd00::5/64", "interface": 1}]
    assert res["dns"] == {"nameservers": ["10.1.0.2"]}
    assert "mtu" not in spec.render_result("1.0.0", att, "/n", "t")["interfaces"][1]


def test_check_reports_each_difference():
    att = spec.attachment(PORT, SUBNETS, 1400, "eth0")
    assert spec.check_mismatches(att, "FA:16:3E:00:00:01", 1400, {"10.1.0.5/24", "fd00::5/64"}) == []
    bad = spec.check_mismatches(att, "fa:16:3e:00:00:02", 1500, {"10.1.0.5/24"})
    assert len(bad) == 3
    assert spec.check_prev_result({"ips": [{"address": "10.9.9.9/24"}]}, att)
    assert spec.check_prev_result({"ips": [{"address": "10.1.0.5/24"}, {"address": "fd00::5/64"}]}, att) == []


def test_gc_victims_only_our_ports_not_in_the_valid_set():
    ports = [{"id": "1", "name": spec.port_name("a", "eth0")}, {"id": "2", "name": spec.port_name("b", "eth0")},
             {"id": "3", "name": "somebody-else"}, {"id": "4", "name": spec.port_name("a", "eth1")}]
    assert [p["id"] for p in spec.gc_victims(ports, {("a", "eth0")})] == ["2", "4"]
    with pytest.raises(CniError) as exc:
        spec.valid_attachments(spec.parse_conf(conf(**{"cni.dev/valid-attachments": [{"ifname": "x"}]}), "GC"))
    assert exc.value.code == spec.E_CONFIG


def test_lxc_hooks_map_to_add_and_del():
    from netledger.services.cni.lxc import hook_env

    add = hook_env(["/c.json", "b1", "lxc", "start-host"], {"LXC_NAME": "b1", "LXC_PID": "42"})
    assert add == {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "b1", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin",
                   "CNI_NETNS": "/proc/42/ns/net"}
    dele = hook_env(["/c.json", "b1", "lxc", "post-stop"], {"LXC_NAME": "b1"})
    assert dele["CNI_COMMAND"] == "DEL" and "CNI_NETNS" not in dele
    with pytest.raises(ValueError):
        hook_env(["/c.json", "b1", "lxc", "pre-start"], {"LXC_NAME": "b1"})
