"""Octavia's data plane: one HAProxy per load balancer in a namespace holding the VIP."""
