"""HTTP layer: routing, body decoding, error mapping. One module per resource kind.

A handler module decodes the request, calls its command (commands/) and the executor,
and renders the answer; it never imports another handler module (shared HTTP helpers
are common, bulk, octavia_common). Routes: http/routes.py.
"""
