"""FWaaS v2 on routers: pure renderer of a router's firewall chains, compile inputs
read from the projection, and the L3 worker's status reports for firewall groups."""
