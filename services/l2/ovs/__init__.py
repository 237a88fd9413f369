"""Open vSwitch mechanism: br-int local VLANs, br-tun tunnels, physical bridges.

model (observed state) -> plan (pure) -> ops -> driver_ovs (the only I/O).
"""
