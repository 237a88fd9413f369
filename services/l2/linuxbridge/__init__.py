"""The ``linuxbridge`` L2 mechanism: one kernel bridge per network, kernel VXLAN, pyroute2.

Layout (as Neutron's linuxbridge agent): ``brq-<net id[:11]>`` per active network,
``vxlan-<vni>`` enslaved to it with l2pop-style flood entries towards the peers, the
mapped physical interface enslaved for a flat network, instance taps enslaved by the
worker once their port intent names the network.
"""
