"""THE route table: every URL the API serves, and the handler module behind it.

Adding a resource is one entry here (its module's ``add_routes``). Handler modules
never register each other's routes, so none imports another.
"""

from __future__ import annotations

from aiohttp import web

from . import (agent, discovery, floatingip, fwaas, network, octavia, octavia_children, openapi, port, quota,
               rbac, router, router_interface, security_group, subnet, tags, vpnaas)

# Collections with the plain CRUD shape, served at /v2.0/<collection>.
CORE = (("networks", network), ("subnets", subnet), ("ports", port))
# Families with their own URL shapes: each module's add_routes(router).
FAMILIES = (router, floatingip, security_group, quota, rbac, fwaas, vpnaas, octavia, openapi)


def add_all(r: web.UrlDispatcher) -> None:
    r.add_get("/", discovery.versions)
    for root in ("/v2.0", "/v2.0/"):
        r.add_get(root, discovery.v2_root)
    r.add_get("/v2.0/extensions", discovery.extensions)
    r.add_get("/v2.0/extensions/{alias}", discovery.extension)
    for coll, mod in CORE:
        r.add_get(f"/v2.0/{coll}", mod.index)
        r.add_post(f"/v2.0/{coll}", mod.create)
        r.add_get(f"/v2.0/{coll}/{{id}}", mod.get)
        r.add_put(f"/v2.0/{coll}/{{id}}", mod.update)
        r.add_delete(f"/v2.0/{coll}/{{id}}", mod.delete)
    tag_base = "/v2.0/{collection:networks|subnets|ports}/{id}/tags"
    r.add_get(tag_base, tags.get_all)
    r.add_put(tag_base, tags.replace_all)
    r.add_post(tag_base, tags.add_many)
    r.add_delete(tag_base, tags.delete_all)
    r.add_get(tag_base + "/{tag}", tags.get_one)
    r.add_put(tag_base + "/{tag}", tags.add_one)
    r.add_delete(tag_base + "/{tag}", tags.delete_one)
    r.add_get("/v2.0/agents", agent.index)
    r.add_get("/v2.0/agents/{id}", agent.get)
    for module in FAMILIES:
        module.add_routes(r)
    r.add_put("/v2.0/routers/{id}/add_router_interface", router_interface.add_interface)
    r.add_put("/v2.0/routers/{id}/remove_router_interface", router_interface.remove_interface)
    for base in octavia.PREFIXES:
        octavia_children.add_routes(r, base)
