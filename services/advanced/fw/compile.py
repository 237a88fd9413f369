"""Firewall groups of a router's ports -> ``FwGroupIntent`` values (pure).

Input is plain row bodies read by ``rows.py``. Only ports of this router are kept
(a group may span routers: each router gets its share); disabled rules are left out;
a missing policy id means "no policy" in that direction. Output is sorted, so equal
inputs give byte-equal intents (topology publishes only real changes).
"""

from __future__ import annotations

from netledger.libs.events.fwaas import FwGroupIntent, FwRuleIntent


def rule_intent(rule: dict) -> FwRuleIntent:
    return FwRuleIntent(rule_id=rule["id"], action=rule["action"], protocol=rule.get("protocol") or "",
                        ip_version=int(rule.get("ip_version") or 4),
                        source_ip_address=rule.get("source_ip_address") or "",
                        destination_ip_address=rule.get("destination_ip_address") or "",
                        source_port=rule.get("source_port") or "", destination_port=rule.get("destination_port") or "")


def policy_rules(policy_id: str | None, policies: dict[str, dict],
                 rules: dict[str, dict]) -> tuple[FwRuleIntent, ...] | None:
    policy = policies.get(policy_id or "")
    if policy is None:
        return None
    return tuple(rule_intent(rules[r]) for r in policy["firewall_rules"] if r in rules and rules[r].get("enabled"))


def build_groups(groups: list[dict], policies: dict[str, dict], rules: dict[str, dict], revs: dict[str, int],
                 router_ports: set[str]) -> tuple[FwGroupIntent, ...]:
    out = []
    for g in sorted(groups, key=lambda x: x["id"]):
        ports = tuple(sorted(p for p in g.get("ports", []) if p in router_ports))
        if not ports:
            continue
        out.append(FwGroupIntent(
            group_id=g["id"], revision=revs.get(g["id"], 0), admin_state_up=bool(g.get("admin_state_up", True)),
            ports=ports, ingress=policy_rules(g.get("ingress_firewall_policy_id"), policies, rules),
            egress=policy_rules(g.get("egress_firewall_policy_id"), policies, rules)))
    return tuple(out)
