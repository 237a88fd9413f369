"""The tag extension: /v2.0/{networks,subnets,ports}/{id}/tags[/{tag}]."""

from __future__ import annotations

from aiohttp import web

from netledger.errors import InvalidInput, NotFound
from netledger.libs.events.network import TagsChanged

from ..attributes import MAX_TAG_LEN, MAX_TAGS
from .common import check_if_match, json_response, read_json
from ..deciders import Plan, Publication
from ..writer import run_with_retries

KINDS = {"networks": "network", "subnets": "subnet", "ports": "port"}


def _check(tag) -> str:
    """neutron's validate_tag: a string of at most MAX_TAG_LEN characters."""
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LEN:
        raise InvalidInput(f"'{tag}' is not a valid tag: a string of 1 to {MAX_TAG_LEN} characters")
    return tag


def _check_body(body) -> list[str]:
    """validate_tags: {"tags": [unique strings]}."""
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
        raise InvalidInput("Invalid tags body")
    tags = [_check(t) for t in body["tags"]]
    if len(set(tags)) != len(tags):
        raise InvalidInput(f"Duplicate items in the list: '{', '.join(sorted(set(tags)))}'")
    return tags


def _subject(svc, kind: str, body: dict) -> str:
    if kind == "network":
        return svc.subjects.network(body["id"])
    if kind == "subnet":
        return svc.subjects.subnet(body["network_id"], body["id"])
    return svc.subjects.aggregate(kind, body["id"])


async def _set(request: web.Request, change) -> list[str]:
    ctx, svc = request["ctx"], request.app["svc"]
    kind = KINDS[request.match_info["collection"]]
    rid = request.match_info["id"]
    result: list[list[str]] = [[]]

    def plan():
        cur, seq = svc.reader.get(kind, rid, ctx.scope())
        check_if_match(request, cur)
        tags = change(list(cur.get("tags", [])))
        if len(set(tags)) > MAX_TAGS:
            raise InvalidInput(f"At most {MAX_TAGS} tags per resource")
        result[0] = sorted(set(tags))
        if result[0] == sorted(cur.get("tags", [])):
            return Plan(resource_id=rid)
        pub = Publication(subject=_subject(svc, kind, cur), kind=kind, aggregate_id=rid, step="tags",
                          event=TagsChanged(resource_id=rid, tags=tuple(result[0])), expect_seq=seq)
        return Plan(facts=(pub,), resource_id=rid)

    await run_with_retries(plan, svc.writer, ctx)
    return result[0]


async def get_all(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], request.app["svc"]
    body, _ = svc.reader.get(KINDS[request.match_info["collection"]], request.match_info["id"], ctx.scope())
    return json_response({"tags": body.get("tags", [])})


async def get_one(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], request.app["svc"]
    body, _ = svc.reader.get(KINDS[request.match_info["collection"]], request.match_info["id"], ctx.scope())
    tag = request.match_info["tag"]
    if tag not in body.get("tags", []):
        raise NotFound(f"Tag {tag} could not be found.", type="TagNotFound")
    return web.Response(status=204)


async def replace_all(request: web.Request) -> web.Response:
    new = _check_body(await read_json(request))
    return json_response({"tags": await _set(request, lambda _old: new)})


async def add_many(request: web.Request) -> web.Response:
    """POST .../tags: add these tags to the ones already there."""
    new = _check_body(await read_json(request))
    return json_response({"tags": await _set(request, lambda old: old + new)}, status=201)


async def add_one(request: web.Request) -> web.Response:
    tag = _check(request.match_info["tag"])
    await _set(request, lambda old: old + [tag])
    return web.Response(status=201)


async def delete_all(request: web.Request) -> web.Response:
    await _set(request, lambda _old: [])
    return web.Response(status=204)


async def delete_one(request: web.Request) -> web.Response:
    tag = request.match_info["tag"]

    def change(old: list[str]) -> list[str]:
        if tag not in old:
            raise NotFound(f"Tag {tag} could not be found.", type="TagNotFound")
        return [t for t in old if t != tag]

    await _set(request, change)
    return web.Response(status=204)
