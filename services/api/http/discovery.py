"""Version and extension discovery documents (GET /, /v2.0, /v2.0/extensions)."""

from __future__ import annotations

from aiohttp import web

from netledger.errors import NotFound

from ..extensions import COLLECTIONS, EXTENSIONS, NAMES, UPDATED
from .common import json_response


def _ext(alias: str) -> dict:
    return {"name": NAMES.get(alias, alias), "alias": alias, "description": EXTENSIONS[alias],
            "updated": UPDATED, "links": []}


async def versions(request: web.Request) -> web.Response:
    base = f"{request.scheme}://{request.host}"
    return json_response({"versions": [{"id": "v2.0", "status": "CURRENT",
                                        "links": [{"href": f"{base}/v2.0/", "rel": "self"}]}]})


async def v2_root(request: web.Request) -> web.Response:
    base = f"{request.scheme}://{request.host}/v2.0"
    return json_response({"resources": [
        {"name": n, "collection": c, "links": [{"href": f"{base}/{c}", "rel": "self"}]} for n, c in COLLECTIONS]})


async def extensions(request: web.Request) -> web.Response:
    return json_response({"extensions": [_ext(a) for a in sorted(EXTENSIONS)]})


async def extension(request: web.Request) -> web.Response:
    alias = request.match_info["alias"]
    if alias not in EXTENSIONS:
        raise NotFound(f"Extension with alias {alias} does not exist", type="HTTPNotFound")
    return json_response({"extension": _ext(alias)})
