"""DHCP for networks: dnsmasq per network namespace, scheduling, metadata proxy.

Pure parts: ``extra_opts`` (API attribute rules), ``scheduler`` (which agent serves
which network), ``render_dnsmasq`` / ``render_metadata`` (generated files), ``plan``
(desired x observed -> ops). I/O: ``driver_*``, ``schedule_loop``, ``worker``,
``metadata_proxy`` (the process answering on 169.254.169.254 in the namespace).
"""
