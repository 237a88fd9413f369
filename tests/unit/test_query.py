"""Neutron list semantics compiled to SQLite (netledger.services.api.query).

Every query goes through a real in-memory SQLite database holding a few hundred
realistic network and port bodies; expected answers come from plain-Python oracles
over the same bodies, so the SQL is checked against an independent statement of
Neutron's rules.
"""

from __future__ import annotations

import json
import random
import sqlite3
import urllib.parse
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netledger.errors import BadRequest, InvalidInput, NotFound
from netledger.services.api.query import (
    ListQuery,
    execute_list,
    marker_sql,
    page_result,
    parse_list_query,
    project_fields,
    to_sql,
)

PROJECTS = ["a1" * 16, "b2" * 16, "c3" * 16]
TAGS = ["red", "blue", "green", "prod"]
URL = "http://127.0.0.1:9696"


# --------------------------------------------------------------------------- data


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stamp(rng: random.Random) -> str:
    return f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:{rng.randint(10, 59)}:00Z"


def make_networks(rng: random.Random, n: int) -> list[dict]:
    nets = []
    for i in range(n):
        project = rng.choice(PROJECTS)
        kind = rng.choice(["vxlan", "vlan", "flat"])
        nets.append(
            {
                "id": _uuid(rng),
                "name": rng.choice(["private", "public", "mgmt", "", f"net-{i % 17}"]),
                "tenant_id": project,
                "project_id": project,
                "admin_state_up": rng.random() < 0.8,
                "mtu": {"vxlan": 1450, "vlan": 1500, "flat": 9000}[kind],
                "status": rng.choice(["ACTIVE", "ACTIVE", "DOWN", "BUILD"]),
                "subnets": [_uuid(rng) for _ in range(rng.randint(0, 2))],
                "shared": rng.random() < 0.2,
                "availability_zone_hints": [],
                "availability_zones": ["nova"],
                "ipv4_address_scope": None,
                "ipv6_address_scope": None,
                "router:external": rng.random() < 0.1,
                "description": rng.choice(["", "tenant net"]),
                "port_security_enabled": True,
                "qos_policy_id": None,
                "l2_adjacency": True,
                "tags": rng.sample(TAGS, rng.randint(0, 3)),
                "created_at": _stamp(rng),
                "updated_at": _stamp(rng),
                "revision_number": rng.randint(1, 6),
                "provider:network_type": kind,
                "provider:physical_network": None if kind == "vxlan" else "physnet1",
                "provider:segmentation_id": None if kind == "flat" else rng.randint(100, 112),
                "dns_domain": "",
                "is_default": False,
            }
        )
    return nets


def make_ports(rng: random.Random, nets: list[dict], sgs: list[str], n: int) -> list[dict]:
    ports = []
    for i in range(n):
        net = rng.choice(nets)
        owner = rng.choice(["", "compute:nova", "compute:nova", "network:dhcp", "network:router_interface"])
        subnets = net["subnets"] or [_uuid(rng)]
        fixed = [
            {"subnet_id": rng.choice(subnets),
             "ip_address": f"10.{rng.randint(0, 3)}.{rng.randint(0, 9)}.{rng.randint(2, 250)}"}
            for _ in range(rng.randint(0, 2))
        ]
        host = rng.choice(["", "compute-1", "compute-2", "compute-3"]) if owner else ""
        ports.append(
            {
                "id": _uuid(rng),
                "name": rng.choice(["", "web", "db", "lb-vip", f"port-{i % 23}"]),
                "network_id": net["id"],
                "tenant_id": net["project_id"],
                "project_id": net["project_id"],
                "mac_address": f"fa:16:3e:{rng.randint(0, 255):02x}:{rng.randint(0, 255):02x}:{i % 256:02x}",
                "admin_state_up": rng.random() < 0.85,
                "status": rng.choice(["ACTIVE", "DOWN", "BUILD"]),
                "device_id": _uuid(rng) if owner else "",
                "device_owner": owner,
                "fixed_ips": fixed,
                "allowed_address_pairs": [],
                "extra_dhcp_opts": [],
                "security_groups": rng.sample(sgs, rng.randint(0, 2)),
                "description": "",
                "binding:vnic_type": rng.choice(["normal", "normal", "direct"]),
                "binding:profile": {},
                "binding:host_id": host,
                "binding:vif_type": "ovs" if host else "unbound",
                "binding:vif_details": {"port_filter": True} if host else {},
                "port_security_enabled": True,
                "qos_policy_id": None,
                "qos_network_policy_id": None,
                "dns_name": "",
                "dns_assignment": [],
                "tags": rng.sample(TAGS, rng.randint(0, 3)),
                "created_at": _stamp(rng),
                "updated_at": _stamp(rng),
                "revision_number": rng.randint(1, 6),
                "propagate_uplink_status": False,
            }
        )
    return ports


def _load(conn: sqlite3.Connection, table: str, bodies: list[dict]) -> None:
    conn.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, project_id TEXT, body TEXT NOT NULL)")
    conn.executemany(
        f"INSERT INTO {table} VALUES (?, ?, ?)", [(b["id"], b["project_id"], json.dumps(b)) for b in bodies]
    )


@pytest.fixture(scope="module")
def world():
    rng = random.Random(20240611)
    sgs = [_uuid(rng) for _ in range(5)]
    nets = make_networks(rng, 150)
    ports = make_ports(rng, nets, sgs, 320)
    conn = sqlite3.connect(":memory:")
    _load(conn, "networks", nets)
    _load(conn, "ports", ports)
    yield {"conn": conn, "networks": nets, "ports": ports, "sgs": sgs}
    conn.close()


NET_ATTRS = frozenset(make_networks(random.Random(0), 1)[0]) - {"availability_zones"}
PORT_ATTRS = frozenset(make_ports(random.Random(0), make_networks(random.Random(0), 1), ["sg"], 1)[0])
# As in Neutron, only plain columns are sort keys (no lists, no extension attributes).
PORT_SORTABLE = frozenset(
    {"id", "name", "network_id", "project_id", "mac_address", "admin_state_up", "status", "device_id",
     "device_owner", "created_at", "updated_at", "revision_number", "binding:host_id"}
)
NET_SORTABLE = frozenset({"id", "name", "project_id", "admin_state_up", "mtu", "status", "shared",
                          "created_at", "updated_at", "revision_number", "provider:segmentation_id"})
ATTRS = {"ports": (PORT_ATTRS, PORT_SORTABLE), "networks": (NET_ATTRS, NET_SORTABLE)}
KIND = {"ports": "port", "networks": "network"}


def run(world, table, params, *, scope=None, extra_where=()):
    """One GET: parse, query, page; returns the response body."""
    attrs, sortable = ATTRS[table]
    q = parse_list_query(params, attributes=attrs, sortable=sortable)
    rows = execute_list(world["conn"], q, table=table, kind=KIND[table], scope_project=scope, extra_where=extra_where)
    return page_result(rows, q, collection=table, url_base=URL, path=f"/v2.0/{table}", params=params)


def ids(result, table):
    return [item["id"] for item in result[table]]


def qs(query: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(query, keep_blank_values=True)


# --------------------------------------------------------------------------- oracle


def sql_key(value):
    """SQLite's ordering of json_extract values: NULL < numbers (bools are 0/1) < text."""
    if value is None:
        return (0, 0)
    if isinstance(value, (bool, int, float)):
        return (1, value)
    return (2, value)


def oracle_sort(bodies, sorts):
    """Stable multi-key sort with the id ASC tiebreak Neutron appends."""
    keys = list(sorts) if any(k == "id" for k, _ in sorts) else list(sorts) + [("id", True)]
    out = list(bodies)
    for key, asc in reversed(keys):
        attr = "project_id" if key == "tenant_id" else key
        out.sort(key=lambda b: sql_key(b.get(attr)), reverse=not asc)
    return [b["id"] for b in out]


def has_fixed(p, key, values):
    return any(fip[key] in values for fip in p["fixed_ips"])


# --------------------------------------------------------------------------- filters

FILTER_CASES = [
    # (id, table, query string, oracle)
    ("or-within-key", "ports", "name=web&name=db", lambda p: p["name"] in ("web", "db")),
    ("and-across-keys", "ports", "name=web&name=db&status=ACTIVE",
     lambda p: p["name"] in ("web", "db") and p["status"] == "ACTIVE"),
    ("bool-true", "ports", "admin_state_up=true", lambda p: p["admin_state_up"] is True),
    ("bool-True", "ports", "admin_state_up=True", lambda p: p["admin_state_up"] is True),
    ("bool-False", "ports", "admin_state_up=False", lambda p: p["admin_state_up"] is False),
    ("bool-1", "ports", "admin_state_up=1", lambda p: p["admin_state_up"] is True),
    ("bool-both", "ports", "admin_state_up=false&admin_state_up=true", lambda p: True),
    ("bool-garbage", "ports", "admin_state_up=maybe", lambda p: False),
    ("int", "ports", "revision_number=3", lambda p: p["revision_number"] == 3),
    ("int-or", "ports", "revision_number=3&revision_number=5", lambda p: p["revision_number"] in (3, 5)),
    ("int-not-text", "networks", "mtu=1450", lambda n: n["mtu"] == 1450),
    ("int-non-numeric", "networks", "mtu=big", lambda n: False),
    ("int-huge", "networks", "mtu=99999999999999999999999", lambda n: False),
    ("nullable-int", "networks", "provider:segmentation_id=105", lambda n: n["provider:segmentation_id"] == 105),
    ("colon-attribute", "ports", "binding:host_id=compute-2", lambda p: p["binding:host_id"] == "compute-2"),
    ("colon-bool", "networks", "router:external=true", lambda n: n["router:external"]),
    ("empty-string", "ports", "device_id=", lambda p: p["device_id"] == ""),
    ("empty-or-value", "ports", "device_owner=&device_owner=network:dhcp",
     lambda p: p["device_owner"] in ("", "network:dhcp")),
    ("text-looks-bool", "networks", "name=true", lambda n: n["name"] == "true"),
    ("tenant-alias", "ports", f"tenant_id={PROJECTS[1]}", lambda p: p["project_id"] == PROJECTS[1]),
    ("project", "networks", f"project_id={PROJECTS[0]}&shared=false",
     lambda n: n["project_id"] == PROJECTS[0] and not n["shared"]),
    ("empty-list-matches-nothing", "networks", "status=ACTIVE&availability_zone_hints=nova", lambda n: False),
    ("injection-is-data", "ports", "name=web' OR '1'='1", lambda p: False),
    ("tags-all", "ports", "tags=red,blue", lambda p: {"red", "blue"} <= set(p["tags"])),
    ("tags-all-repeated", "ports", "tags=red&tags=blue", lambda p: {"red", "blue"} <= set(p["tags"])),
    ("tags-any", "ports", "tags-any=red,blue", lambda p: bool({"red", "blue"} & set(p["tags"]))),
    ("tags-any-repeated", "networks", "tags-any=red&tags-any=prod", lambda n: bool({"red", "prod"} & set(n["tags"]))),
    ("not-tags", "ports", "not-tags=red,blue", lambda p: not {"red", "blue"} <= set(p["tags"])),
    ("not-tags-any", "ports", "not-tags-any=red,blue", lambda p: not {"red", "blue"} & set(p["tags"])),
    ("tags-combined", "networks", "tags=prod&not-tags-any=red",
     lambda n: "prod" in n["tags"] and "red" not in n["tags"]),
    ("tags-missing-tag", "ports", "tags=red,nosuch", lambda p: False),
    ("fixed-ip-none", "ports", "fixed_ips=True", lambda p: True),
]


@pytest.mark.parametrize("table,query,oracle", [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES])
def test_filters(world, table, query, oracle):
    got = ids(run(world, table, qs(query)), table)
    assert got == oracle_sort([b for b in world[table] if oracle(b)], [])


def test_filter_cases_are_not_vacuous(world):
    # Guard against a data set where the interesting cases silently match nothing.
    for name, table, _, oracle in FILTER_CASES:
        if name in {"bool-true", "int", "colon-attribute", "empty-string", "tags-all", "tags-any", "not-tags",
                    "not-tags-any", "nullable-int", "colon-bool", "tags-combined", "tenant-alias"}:
            hits = sum(map(oracle, world[table]))
            assert 0 < hits < len(world[table]), name


def test_mac_address_is_sanitised(world):
    port = world["ports"][7]
    shouted = port["mac_address"].upper().replace(":", "-")
    assert ids(run(world, "ports", [("mac_address", shouted)]), "ports") == [port["id"]]


def test_id_filter_or(world):
    a, b = world["ports"][3]["id"], world["ports"][9]["id"]
    assert ids(run(world, "ports", [("id", a), ("id", b), ("id", "nope")]), "ports") == sorted([a, b])


def test_list_attribute_contains(world):
    sg = world["sgs"][2]
    got = ids(run(world, "ports", [("security_groups", sg)]), "ports")
    assert got == oracle_sort([p for p in world["ports"] if sg in p["security_groups"]], [])
    assert got
    subnet = next(n for n in world["networks"] if n["subnets"])["subnets"][0]
    assert ids(run(world, "networks", [("subnets", subnet)]), "networks") == oracle_sort(
        [n for n in world["networks"] if subnet in n["subnets"]], []
    )


def _some_fixed(world, i=0):
    return [p for p in world["ports"] if p["fixed_ips"]][i]["fixed_ips"][0]


def test_fixed_ips_ip_address(world):
    fip = _some_fixed(world)
    got = ids(run(world, "ports", [("fixed_ips", f"ip_address={fip['ip_address']}")]), "ports")
    assert got == oracle_sort([p for p in world["ports"] if has_fixed(p, "ip_address", {fip["ip_address"]})], [])
    assert got


def test_fixed_ips_repeated_key_is_or(world):
    a, b = _some_fixed(world, 0)["ip_address"], _some_fixed(world, 5)["ip_address"]
    got = ids(run(world, "ports", qs(f"fixed_ips=ip_address%3D{a}&fixed_ips=ip_address%3D{b}")), "ports")
    assert got == oracle_sort([p for p in world["ports"] if has_fixed(p, "ip_address", {a, b})], [])


def test_fixed_ips_keys_are_independent_any_conditions(world):
    # Neutron: (some fixed ip has the address) AND (some fixed ip is on the subnet),
    # not necessarily the same entry.
    fip = _some_fixed(world, 3)
    params = [("fixed_ips", f"ip_address={fip['ip_address']}"), ("fixed_ips", f"subnet_id={fip['subnet_id']}")]
    expected = [
        p for p in world["ports"]
        if has_fixed(p, "ip_address", {fip["ip_address"]}) and has_fixed(p, "subnet_id", {fip["subnet_id"]})
    ]
    assert ids(run(world, "ports", params), "ports") == oracle_sort(expected, [])
    port = {"fixed_ips": [{"subnet_id": "s1", "ip_address": "10.9.9.1"}, {"subnet_id": "s2", "ip_address": "10.9.9.2"}]}
    conn = sqlite3.connect(":memory:")
    _load(conn, "ports", [dict(port, id="p1", project_id="x")])
    q = parse_list_query(qs("fixed_ips=ip_address%3D10.9.9.1&fixed_ips=subnet_id%3Ds2"), attributes=PORT_ATTRS)
    assert [r[0] for r in conn.execute(*to_sql(q, table="ports", scope_project=None))] == ["p1"]


def test_fixed_ips_substr(world):
    got = ids(run(world, "ports", [("fixed_ips", "ip_address_substr=10.2.3.")]), "ports")
    expected = [p for p in world["ports"] if any("10.2.3." in f["ip_address"] for f in p["fixed_ips"])]
    assert got == oracle_sort(expected, []) and got
    # LIKE wildcards in the value are literal.
    assert ids(run(world, "ports", [("fixed_ips", "ip_address_substr=10_2")]), "ports") == []


def test_fixed_ips_unknown_subkey_is_ignored_like_neutron(world):
    assert len(run(world, "ports", [("fixed_ips", "foo=bar")])["ports"]) == len(world["ports"])


def test_fixed_ips_malformed_is_invalid_input():
    with pytest.raises(InvalidInput) as err:
        parse_list_query([("fixed_ips", "10.0.0.1")], attributes=PORT_ATTRS)
    assert err.value.status == 400
    assert err.value.message == "Invalid input for operation: '10.0.0.1' is not of the form <key>=[value]."


def test_scope_and_extra_where(world):
    project = PROJECTS[2]
    got = ids(run(world, "networks", [], scope=project), "networks")
    assert got == oracle_sort([n for n in world["networks"] if n["project_id"] == project], [])
    shared = ("project_id = ? OR json_extract(body, '$.shared') = 1", [project])
    got = ids(run(world, "networks", [("status", "ACTIVE")], extra_where=[shared]), "networks")
    expected = [n for n in world["networks"] if (n["project_id"] == project or n["shared"]) and n["status"] == "ACTIVE"]
    assert got == oracle_sort(expected, [])


# --------------------------------------------------------------------------- validation

BAD_REQUESTS = [
    ("unknown-filter", "foo=bar&name=x", BadRequest, "['foo'] is invalid attribute for filtering"),
    ("unknown-filters", "foo=1&bar=2", BadRequest, "['foo', 'bar'] is invalid attribute for filtering"),
    ("sort-count", "sort_key=name&sort_key=id&sort_dir=asc", BadRequest,
     "The number of sort_keys and sort_dirs must be same"),
    ("sort-key", "sort_key=fixed_ips&sort_dir=asc", BadRequest, "['fixed_ips'] is invalid attribute for sort_keys"),
    ("sort-dir", "sort_key=name&sort_dir=up", BadRequest,
     "['up'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'"),
    ("sort-dir-case", "sort_key=name&sort_dir=ASC", BadRequest,
     "['ASC'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'"),
    ("limit-negative", "limit=-1", BadRequest,
     "Bad limit request: Limit must be an integer 0 or greater and not '-1'."),
    ("limit-text", "limit=ten", BadRequest, "Bad limit request: Limit must be an integer 0 or greater and not 'ten'."),
    ("limit-empty", "limit=", BadRequest, "Bad limit request: Limit must be an integer 0 or greater and not ''."),
    ("filter-before-sort", "foo=1&sort_key=nope&sort_dir=asc", BadRequest,
     "['foo'] is invalid attribute for filtering"),
]


@pytest.mark.parametrize("query,exc,message", [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests(query, exc, message):
    with pytest.raises(exc) as err:
        parse_list_query(qs(query), attributes=PORT_ATTRS, sortable=PORT_SORTABLE)
    assert err.value.status == 400
    assert err.value.message == message


def test_tag_filters_need_the_tags_attribute():
    with pytest.raises(BadRequest, match=r"\['tags-any'\] is invalid attribute for filtering"):
        parse_list_query([("tags-any", "red")], attributes=frozenset({"id", "name"}))


def test_reserved_params_are_not_filters():
    q = parse_list_query(
        qs("fields=id&sort_key=name&sort_dir=asc&limit=2&marker=m&page_reverse=false"),
        attributes=frozenset({"id", "name"}),
    )
    assert q == ListQuery(fields=("id",), sorts=(("name", True),), limit=2, marker="m", page_reverse=False)


def test_parse_details():
    q = parse_list_query(qs("limit=5&limit=3&page_reverse=TRUE&sort_key=&sort_dir=&fields="), attributes=PORT_ATTRS)
    assert (q.limit, q.page_reverse, q.sorts, q.fields) == (3, True, (), ())  # last value wins, blanks dropped
    assert parse_list_query(qs("marker=abc"), attributes=PORT_ATTRS).marker is None  # no limit, no marker
    assert parse_list_query(qs("limit=0&marker=abc"), attributes=PORT_ATTRS).limit is None
    assert parse_list_query(qs("limit=500"), attributes=PORT_ATTRS, max_limit=100).limit == 100
    assert parse_list_query(qs("limit=0"), attributes=PORT_ATTRS, max_limit=100).limit == 100
    assert parse_list_query(qs("tags=a,b&tags=b,c"), attributes=PORT_ATTRS).tags == ("a", "b", "c")
    # sortable defaults to the filterable attributes; tenant_id stands for project_id
    assert parse_list_query(qs("sort_key=tenant_id&sort_dir=desc"), attributes=PORT_ATTRS).sorts == (
        ("tenant_id", False),
    )


def test_attribute_names_cannot_break_out_of_the_json_path():
    q = ListQuery(filters=(('a"b', ("x",)),))
    with pytest.raises(ValueError):
        to_sql(q, table="ports", scope_project=None)


# --------------------------------------------------------------------------- fields


def test_project_fields():
    body = {"id": "1", "name": "n", "binding:host_id": "h", "tags": []}
    assert project_fields(body, ("name", "binding:host_id")) == {"name": "n", "binding:host_id": "h"}
    assert project_fields(body, ("nosuch",)) == {}
    assert project_fields(body, ()) == body
    assert list(project_fields(body, ("tags", "id"))) == ["id", "tags"]  # body order kept


def test_fields_applied_after_paging(world):
    params = qs("fields=name&fields=binding:host_id&limit=4&sort_key=name&sort_dir=asc")
    result = run(world, "ports", params)
    assert all(set(item) == {"name", "binding:host_id"} for item in result["ports"])
    # the marker still comes from the (unprojected) id
    full = oracle_sort(world["ports"], [("name", True)])
    next_href = result["ports_links"][0]["href"]
    assert dict(qs(urllib.parse.urlsplit(next_href).query))["marker"] == full[3]


# --------------------------------------------------------------------------- sorting

SORT_CASES = [
    ("ports", [("name", True)]),
    ("ports", [("name", False)]),
    ("ports", [("status", True), ("name", False)]),
    ("ports", [("admin_state_up", False), ("revision_number", True), ("name", True)]),
    ("ports", [("binding:host_id", True), ("id", False)]),
    ("ports", [("tenant_id", False), ("created_at", True)]),
    ("networks", [("provider:segmentation_id", True)]),  # NULLs first ascending
    ("networks", [("provider:segmentation_id", False), ("mtu", True)]),  # NULLs last descending
    ("networks", [("shared", True), ("name", False)]),
]


def _sort_params(sorts):
    return [p for key, asc in sorts for p in (("sort_key", key), ("sort_dir", "asc" if asc else "desc"))]


@pytest.mark.parametrize("table,sorts", SORT_CASES)
def test_multi_key_sort(world, table, sorts):
    assert ids(run(world, table, _sort_params(sorts)), table) == oracle_sort(world[table], sorts)


def test_default_order_is_id(world):
    assert ids(run(world, "networks", []), "networks") == sorted(n["id"] for n in world["networks"])


# --------------------------------------------------------------------------- pagination


def walk(world, table, params, rel="next", scope=None):
    """Follow ``rel`` links until they stop; returns the pages' id lists."""
    pages = []
    while params is not None and len(pages) < 1000:
        result = run(world, table, params, scope=scope)
        pages.append(ids(result, table))
        href = next((link["href"] for link in result.get(f"{table}_links", []) if link["rel"] == rel), None)
        params = qs(urllib.parse.urlsplit(href).query) if href else None
    return pages


@pytest.mark.parametrize("table,sorts", SORT_CASES)
@pytest.mark.parametrize("limit", [1, 7, 50])
def test_forward_pages_cover_everything_once(world, table, sorts, limit):
    pages = walk(world, table, [("limit", str(limit))] + _sort_params(sorts))
    flat = [i for page in pages for i in page]
    assert flat == oracle_sort(world[table], sorts)
    assert all(len(page) == limit for page in pages[:-1])
    # no look-ahead (as Neutron): an exact multiple ends with one empty page
    assert len(pages) == len(flat) // limit + 1


def test_filtered_paging(world):
    params = qs("status=ACTIVE&tags-any=red,prod&limit=6&sort_key=name&sort_dir=desc")
    flat = [i for page in walk(world, "ports", params) for i in page]
    expected = [p for p in world["ports"] if p["status"] == "ACTIVE" and {"red", "prod"} & set(p["tags"])]
    assert flat == oracle_sort(expected, [("name", False)])


def test_reverse_pages_from_the_end(world):
    sorts = [("status", True), ("name", False)]
    full = oracle_sort(world["ports"], sorts)
    params = [("limit", "9"), ("page_reverse", "True"), ("marker", full[-1])] + _sort_params(sorts)
    pages = walk(world, "ports", params, rel="previous")
    assert all(page == sorted(page, key=full.index) for page in pages)  # each page in normal order
    flat = [i for page in reversed(pages) for i in page]
    assert flat + [full[-1]] == full


def test_page_reverse_without_marker_is_the_last_page(world):
    full = oracle_sort(world["networks"], [("name", True)])
    result = run(world, "networks", qs("limit=4&page_reverse=true&sort_key=name&sort_dir=asc"))
    assert ids(result, "networks") == full[-4:]


def test_page_reverse_without_limit_reverses(world):
    # Neutron flips the sort for page_reverse and only un-flips it when limited.
    assert ids(run(world, "networks", qs("page_reverse=True")), "networks") == sorted(
        (n["id"] for n in world["networks"]), reverse=True
    )


def test_limit_zero_means_everything_without_links(world):
    result = run(world, "ports", qs("limit=0&marker=whatever"))
    assert len(result["ports"]) == len(world["ports"]) and "ports_links" not in result


def test_no_links_without_limit(world):
    assert set(run(world, "networks", qs("name=public"))) == {"networks"}


def test_missing_marker_is_404(world):
    with pytest.raises(NotFound) as err:
        run(world, "networks", qs("limit=2&marker=0000-gone"))
    assert err.value.status == 404 and err.value.type == "NetworkNotFound"
    assert err.value.message == "Network 0000-gone could not be found."


def test_invisible_marker_is_404(world):
    other = next(p for p in world["ports"] if p["project_id"] != PROJECTS[0])
    with pytest.raises(NotFound):
        run(world, "ports", [("limit", "3"), ("marker", other["id"])], scope=PROJECTS[0])


def test_marker_outside_the_filter_still_positions(world):
    # Neutron loads the marker by id (not through the filters) and pages after it.
    full = oracle_sort(world["ports"], [])
    down = [p for p in world["ports"] if p["status"] == "DOWN"]
    marker = next(p["id"] for p in world["ports"] if p["status"] != "DOWN")
    result = run(world, "ports", [("status", "DOWN"), ("limit", "1000"), ("marker", marker)])
    assert ids(result, "ports") == [i for i in oracle_sort(down, []) if full.index(i) > full.index(marker)]


def test_marker_sql_only_with_marker():
    assert marker_sql(ListQuery(), table="ports", scope_project=None) is None
    sql, params = marker_sql(ListQuery(limit=1, marker="m"), table="ports", scope_project="p",
                             extra_where=[("x = ?", [1])])
    assert params == ["m", "p", 1] and sql.count("?") == 3


def test_to_sql_binds_every_value():
    q = parse_list_query(qs("name=evil'--&limit=3&marker=mark1&page_reverse=1"), attributes=PORT_ATTRS)
    sql, params = to_sql(q, table="ports", scope_project="scope1")
    assert not any(value in sql for value in ("evil", "scope1", "mark1"))
    assert sql.count("?") == len(params) and sql.startswith("WITH _marker AS")


# --------------------------------------------------------------------------- links


def test_links_match_the_api_reference_example():
    rows = [{"id": "396f12f8"}, {"id": "71c1e68c"}]
    params = [("limit", "2")]
    q = parse_list_query(params, attributes=NET_ATTRS)
    body = page_result(rows, q, collection="networks", url_base=URL + "/", path="/v2.0/networks.json", params=params)
    assert body == {
        "networks": rows,
        "networks_links": [
            {"rel": "next", "href": f"{URL}/v2.0/networks.json?limit=2&marker=71c1e68c"},
            {"rel": "previous", "href": f"{URL}/v2.0/networks.json?limit=2&marker=396f12f8&page_reverse=True"},
        ],
    }


def test_last_page_has_only_previous():
    params = [("limit", "2"), ("marker", "71c1e68c")]
    q = parse_list_query(params, attributes=NET_ATTRS)
    body = page_result([{"id": "b368"}], q, collection="networks", url_base=URL, path="/v2.0/networks.json",
                       params=params)
    assert body["networks_links"] == [
        {"rel": "previous", "href": f"{URL}/v2.0/networks.json?limit=2&marker=b368&page_reverse=True"}
    ]


def test_links_keep_other_params_in_order_and_encode():
    params = [("name", "a b"), ("marker", "old"), ("limit", "1"), ("fixed_ips", "ip_address=10.0.0.1"),
              ("page_reverse", "True"), ("sort_key", "binding:host_id"), ("sort_dir", "asc")]
    q = parse_list_query(params, attributes=PORT_ATTRS)
    links = page_result([{"id": "x1"}], q, collection="ports", url_base=URL, path="/v2.0/ports",
                        params=params)["ports_links"]
    common = "name=a+b&limit=1&fixed_ips=ip_address%3D10.0.0.1&sort_key=binding%3Ahost_id&sort_dir=asc"
    assert links == [
        {"rel": "next", "href": f"{URL}/v2.0/ports?{common}&marker=x1"},
        {"rel": "previous", "href": f"{URL}/v2.0/ports?{common}&marker=x1&page_reverse=True"},
    ]


@pytest.mark.parametrize(
    "count,reverse,rels",
    [
        (3, False, ["next", "previous"]),  # full page
        (2, False, ["previous"]),  # short forward page: the end
        (0, False, ["previous"]),
        (3, True, ["next", "previous"]),
        (2, True, ["next"]),  # short reverse page: the beginning
        (0, True, ["next"]),
    ],
)
def test_link_presence(count, reverse, rels):
    params = [("limit", "3")] + ([("page_reverse", "True")] if reverse else [])
    q = parse_list_query(params, attributes=NET_ATTRS)
    rows = [{"id": f"n{i}"} for i in range(count)]
    links = page_result(rows, q, collection="networks", url_base=URL, path="/v2.0/networks", params=params)
    assert [link["rel"] for link in links["networks_links"]] == rels
    if count == 0:  # an empty page drops the marker entirely
        assert all("marker" not in link["href"] for link in links["networks_links"])


# --------------------------------------------------------------------------- property

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(alphabet="abAB é", max_size=3)
)
_RECORD = st.fixed_dictionaries(
    {
        "name": st.one_of(st.none(), st.text(alphabet="abcAB é", max_size=2)),
        "size": st.one_of(st.none(), st.integers(-2, 2)),
        "flag": st.booleans(),
        "mixed": _SCALARS,
    }
)
_SORT_KEYS = ["name", "size", "flag", "mixed", "id"]


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(_RECORD, max_size=30),
    uuids=st.lists(st.uuids(), min_size=30, max_size=30, unique=True),
    sorts=st.lists(st.tuples(st.sampled_from(_SORT_KEYS), st.booleans()), max_size=3, unique_by=lambda s: s[0]),
    limit=st.integers(1, 7),
)
def test_pages_concatenate_to_the_sorted_list(records, uuids, sorts, limit):
    bodies = [dict(r, id=str(u), project_id="p") for r, u in zip(records, uuids)]
    conn = sqlite3.connect(":memory:")
    _load(conn, "things", bodies)
    attrs = frozenset(_SORT_KEYS) | {"project_id"}
    expected = oracle_sort(bodies, sorts)

    def pages(params, rel):
        out = []
        while params is not None:
            q = parse_list_query(params, attributes=attrs)
            rows = execute_list(conn, q, table="things", kind="thing", scope_project=None)
            result = page_result(rows, q, collection="things", url_base=URL, path="/t", params=params)
            assert len(result["things"]) <= limit
            out.append([b["id"] for b in result["things"]])
            href = next((lk["href"] for lk in result["things_links"] if lk["rel"] == rel), None)
            params = qs(urllib.parse.urlsplit(href).query) if href else None
        return out

    base = [("limit", str(limit))] + _sort_params(sorts)
    forward = pages(base, "next")
    assert [i for page in forward for i in page] == expected
    backward = pages(base + [("page_reverse", "True")], "previous")
    assert [i for page in reversed(backward) for i in page] == expected
