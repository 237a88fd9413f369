"""Serve Keystone's WSGI application on a loopback port (run with the keystone venv's
python): ``python serve.py <port>``; the config comes from $OS_KEYSTONE_CONFIG_FILES.

A threaded wsgiref server: enough for tests (no extra dependency in the venv)."""

from __future__ import annotations

import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):  # keystone logs requests itself
        pass


def main() -> None:
    port = int(sys.argv[1])
    sys.argv = sys.argv[:1]  # keystone parses the command line when it loads its config
    from keystone.wsgi.api import application

    make_server("127.0.0.1", port, application, server_class=_Server, handler_class=_Quiet).serve_forever()


if __name__ == "__main__":
    main()
