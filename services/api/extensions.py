"""The extensions this API implements (alias -> description, name): the registry
handler modules add to and discovery (http/discovery.py) lists.

Invariant: an alias is listed only when its behaviour is implemented end to end
(clients such as openstackclient switch features on what this list says).
"""

from __future__ import annotations

UPDATED = "2026-11-29T00:00:00-00:00"
EXTENSIONS = {
    "standard-attr-description": "Extension to add descriptions to standard attributes",
    "standard-attr-revisions": "This extension will display the revision number of neutron resources",
    "standard-attr-timestamp": "Adds created_at and updated_at fields to all Neutron resources",
    "standard-attr-tag": "Enables to set tag on resources with standard attribute.",
    "project-id": "Extension that indicates that project_id is enabled.",
    "revision-if-match": "Extension indicating that If-Match based on revision_number is supported.",
    "pagination": "Extension that indicates that pagination is enabled.",
    "sorting": "Extension that indicates that sorting is enabled.",
    "filter-validation": "Provides validation on filtering parameters.",
    "binding": "Expose port bindings of a virtual port to external application",
    "provider": "Expose mapping of virtual networks to physical networks",
    "external-net": "Adds external network attribute to network resource.",
    "port-security": "Provides port security",
    "allowed-address-pairs": "Provides allowed address pairs",
    "net-mtu": "Provides MTU attribute for a network resource.",
    "net-mtu-writable": "Provides a writable MTU attribute for a network resource.",
    "empty-string-filtering": "Allow filtering by attributes with empty string value",
    "ip-substring-filtering": "Provides IP substring filtering when listing ports",
    "tag-creation": "Allow to set tags on resource creation",
}
NAMES = {
    "standard-attr-description": "standard-attr-description", "standard-attr-revisions": "Resource revision numbers",
    "standard-attr-timestamp": "Resource timestamps", "standard-attr-tag": "Tag support for resources with standard attribute: network, subnet, port",
    "project-id": "project_id field enabled", "revision-if-match": "If-Match constraints based on revision_number",
    "pagination": "Pagination support", "sorting": "Sorting support", "filter-validation": "Filter parameters validation",
    "binding": "Port Binding", "provider": "Provider Network", "external-net": "Neutron external network",
    "port-security": "Port Security", "allowed-address-pairs": "Allowed Address Pairs", "net-mtu": "Network MTU",
    "net-mtu-writable": "Network MTU (writable)", "empty-string-filtering": "Empty String Filtering Extension",
    "ip-substring-filtering": "IP address substring filtering", "tag-creation": "Tag creation extension",
}
# The v2.0 root lists the core resources only (extension resources are discovered
# through /v2.0/extensions), as Neutron's does.
COLLECTIONS = [("network", "networks"), ("subnet", "subnets"), ("port", "ports")]

# Implemented by the worker families (agents list heartbeats; DHCP is scheduled onto
# agents; ports carry extra_dhcp_opts).
EXTENSIONS.update({
    "agent": "The agent management extension.",
    "dhcp_agent_scheduler": "Schedule networks among dhcp agents",
    "extra_dhcp_opt": "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
})
NAMES.update({"agent": "agent", "dhcp_agent_scheduler": "DHCP Agent Scheduler", "extra_dhcp_opt": "Neutron Extra DHCP options"})


