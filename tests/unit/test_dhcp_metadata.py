"""The metadata proxy's built-in responder and its request handling (pure parts + a
real server on 127.0.0.1 with a rendered configuration)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from netledger.services.dhcp import metadata_proxy as mp
from netledger.services.dhcp.render_metadata import render_metadata
from tests.unit.test_dhcp_render import NET, PA

INSTANCE = json.loads(render_metadata(NET))["by_ip"]["10.0.0.10"]


def test_openstack_and_ec2_paths_identify_the_port():
    status, ctype, body = mp.respond_builtin(INSTANCE, "/openstack/latest/meta_data.json")
    meta = json.loads(body)
    assert (status, ctype) == (200, "application/json")
    assert meta["uuid"] == "vm-a" and meta["meta"]["port_id"] == PA and meta["hostname"].endswith(".openstacklocal")
    assert mp.respond_builtin(INSTANCE, "/latest/meta-data/instance-id")[2] == "vm-a"
    assert mp.respond_builtin(INSTANCE, "/latest/meta-data/local-ipv4")[2] == "10.0.0.10"
    assert "instance-id" in mp.respond_builtin(INSTANCE, "/latest/meta-data/")[2]
    links = json.loads(mp.respond_builtin(INSTANCE, "/openstack/latest/network_data.json")[2])["links"]
    assert links[0]["ethernet_mac_address"] == "fa:16:3e:00:00:0a"
    assert mp.respond_builtin(INSTANCE, "/nope")[0] == 404


def test_server_answers_known_callers_only(tmp_path):
    doc = json.loads(render_metadata(NET))
    doc["by_ip"]["127.0.0.1"] = doc["by_ip"].pop("10.0.0.10")       # this test calls from 127.0.0.1
    conf = tmp_path / "metadata.json"
    conf.write_text(json.dumps(doc))
    server = mp.listen_in("", ("127.0.0.1", 0), mp.make_handler(mp.Config(str(conf))))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{url}/latest/meta-data/instance-id", timeout=5) as resp:
            assert resp.read() == b"vm-a"
        del doc["by_ip"]["127.0.0.1"]                                # the port is gone: reloaded by mtime
        conf.write_text(json.dumps(doc))
        import os
        os.utime(conf, (1, 1))
        try:
            urllib.request.urlopen(f"{url}/latest/meta-data/instance-id", timeout=5)
            raise AssertionError("an unknown caller must get 404")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
    finally:
        server.shutdown()
