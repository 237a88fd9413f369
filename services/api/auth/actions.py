"""Which policy rule a request needs (pure): method + path -> (action, kind, id).

Neutron names rules ``<verb>_<resource>`` (``create_network``, ``get_port``); tag
changes are updates of the tagged resource; member actions such as
``add_router_interface`` are their own rules. Paths with no rule (version discovery,
extensions, quotas and agents, which check in their handlers) give None.
"""

from __future__ import annotations

from dataclasses import dataclass

VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "DELETE": "delete"}
UNCHECKED = {"", "extensions", "quotas", "agents"}


@dataclass(frozen=True)
class Action:
    name: str          # e.g. update_network
    kind: str          # e.g. network
    resource_id: str   # "" for collection requests
    verb: str          # get / create / update / delete

    @property
    def is_write(self) -> bool:
        return self.verb != "get"


def singular(collection: str) -> str:
    name = collection.replace("-", "_")
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else name


# Extensions whose collections sit under a prefix (/v2.0/fwaas/firewall_groups).
PREFIXES = ("fwaas", "vpn", "lbaas")


def action_for(method: str, path: str) -> Action | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) > 2 and parts[1] in PREFIXES:
        parts = [parts[0], *parts[2:]]
    if not parts or parts[0] != "v2.0" or len(parts) < 2 or parts[1] in UNCHECKED:
        return None
    verb = VERBS.get(method.upper())
    if verb is None:
        return None
    kind = singular(parts[1])
    rid = parts[2] if len(parts) > 2 else ""
    if len(parts) > 3:
        # /routers/{id}/add_router_interface, /networks/{id}/tags[/t]
        member = parts[3]
        if member == "tags":
            return Action(f"{'get' if verb == 'get' else 'update'}_{kind}", kind, rid, verb)
        return Action(member if verb != "get" else f"get_{kind}", kind, rid, verb)
    return Action(f"{verb}_{kind}", kind, rid, verb)


def fallback_rule(action: Action) -> str:
    """For resource kinds the default policy does not list (other families' new
    endpoints): members write their project's resources, readers read them."""
    return "admin_or_project_member" if action.is_write else "admin_or_project_reader"
