"""The Neutron v2.0 HTTP API (aiohttp): routes, middleware and process start-up."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time

import structlog
from aiohttp import web

from netledger.config import Config, segment_config
from netledger.optional import import_optional
from netledger.errors import MethodNotAllowed, NeutronError, NotFound, RequestEntityTooLarge
from netledger.libs import bus as busmod
from netledger.libs.events.subjects import Subjects
from netledger.services.topology import store as topo_store

from . import janitor
from .claims_view import ReaderAgents, ReaderClaims
from .http import routes as routes_table
from .http.common import json_response
from .auth import Auth
from .context import context_from_headers, new_request_id
from .position import Position
from .services import Services
from .store import Reader
from .writer import Writer

log = structlog.get_logger("api")


@web.middleware
async def context_middleware(request: web.Request, handler):
    request_id = new_request_id()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    start = time.perf_counter()
    try:
        response = await _guarded(request, lambda req: _authorised(req, handler, request_id))
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    response.headers["X-Openstack-Request-Id"] = request_id
    log.debug("request", method=request.method, path=request.path, status=response.status,
              ms=round((time.perf_counter() - start) * 1000, 2), request_id=request_id)
    return response


async def _authorised(request: web.Request, handler, request_id: str) -> web.StreamResponse:
    """Authenticate (401), then Neutron's policy for the request (403), then the handler.
    Version discovery (``/``) needs no token, as in Neutron."""
    auth = request.app["auth"]
    if request.path == "/" and auth.keystone is not None:
        request["ctx"] = context_from_headers({}, default_project="", default_admin=False)
        return await handler(request)
    ctx = await auth.context(request, request_id)
    request["ctx"] = ctx
    await auth.enforce(request, ctx)
    return await handler(request)


async def _guarded(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NeutronError as exc:
        response = json_response(exc.body(), status=exc.status)
        response.headers.update(getattr(exc, "headers", {}))  # e.g. 401's WWW-Authenticate
        return response
    except web.HTTPRequestEntityTooLarge:
        err = RequestEntityTooLarge("Request body is too large")
        return json_response(err.body(), status=err.status)
    except web.HTTPMethodNotAllowed:
        err = MethodNotAllowed(f"Method {request.method} is not allowed on {request.path}")
        return json_response(err.body(), status=err.status)
    except web.HTTPNotFound:
        err = NotFound("The resource could not be found.")
        return json_response(err.body(), status=err.status)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error", method=request.method, path=request.path)
        body = {"NeutronError": {"type": "HTTPInternalServerError", "detail": "",
                                 "message": "Request Failed: internal server error while processing your request."}}
        return json_response(body, status=500)


def routes(app: web.Application) -> None:
    routes_table.add_all(app.router)


async def build_services(cfg: Config) -> Services:
    subjects = Subjects(cfg.prefix)
    bus = await busmod.connect(cfg.effective_nats_url, name="netledger-api", subjects=subjects,
                               user=cfg.nats_user or None, password=cfg.nats_password or None,
                               creds=cfg.nats_creds or None)
    await busmod.ensure_streams(bus)
    db_path = cfg.effective_db_path
    os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
    topo_store.create_schema(topo_store.open_db(db_path))  # idempotent; topology owns the rows
    reader = Reader(db_path)
    position = Position(reader)
    await position.start(bus.nc, subjects.projection_position(cfg.projection_name))
    return Services(cfg=cfg, bus=bus, reader=reader, position=position, writer=Writer(bus, position),
                    claims=ReaderClaims(reader), agents=ReaderAgents(reader, cfg.agent_down_time),
                    segcfg=segment_config(cfg), rng=random.Random(os.urandom(16)))


def make_app(cfg: Config, svc: Services) -> web.Application:
    app = web.Application(middlewares=[context_middleware], client_max_size=cfg.max_body_bytes)
    app["cfg"] = cfg
    app["svc"] = svc
    app["auth"] = Auth(cfg)
    # Commands consult the same policy (every authorization decision is the engine's).
    svc.policy = app["auth"].policy
    routes(app)
    return app


async def dispatch(app: web.Application, method: str, path_qs: str, *, body=None,
                   headers: dict | None = None) -> tuple[int, dict | None, object]:
    """Run one Neutron REST request through this app's router and middlewares, in-process.

    The one entry point for the other interfaces of the API process (gRPC, NATS
    commands): they build the REST request and get back (status, JSON body, request
    context), so validation, policy, idempotency and errors are the REST path's own.
    The app must be frozen (started)."""
    from aiohttp.streams import StreamReader
    from aiohttp.test_utils import make_mocked_request

    data = json.dumps(body).encode() if body is not None else b""
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}
    loop = asyncio.get_running_loop()
    payload = StreamReader(_NoFlowControl(), 2**16, loop=loop)
    if data:
        payload.feed_data(data)
    payload.feed_eof()
    request = make_mocked_request(method, path_qs, headers=hdrs, app=app, payload=payload, loop=loop,
                                  client_max_size=app._client_max_size)
    response = await app._handle(request)
    raw = getattr(response, "body", None) or b""
    return response.status, (json.loads(raw) if raw else None), request.get("ctx")


class _NoFlowControl:
    """The protocol side of an in-memory request body: fully buffered, never paused."""

    _reading_paused = False

    def pause_reading(self, *args, **kwargs) -> None: ...

    def resume_reading(self, *args, **kwargs) -> None: ...


async def serve(cfg: Config, *, ready: asyncio.Event | None = None) -> None:
    svc = await build_services(cfg)
    app = make_app(cfg, svc)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, cfg.api_host, cfg.api_port, reuse_port=True)
    await site.start()
    sweeper = asyncio.create_task(janitor.run(svc))
    # The DHCP scheduler (services/dhcp/schedule_loop.py): this process decides which
    # DHCP agent serves which network, as Neutron's server does.
    dhcp_sched = import_optional("netledger.services.dhcp.schedule_loop")
    scheduler = asyncio.create_task(dhcp_sched.run(svc)) if dhcp_sched else None
    # The other interfaces of this process (gRPC, commands on NATS, the Nova notifier):
    # each dispatches through the app above; absent modules are skipped.
    interfaces = import_optional("netledger.services.interfaces")
    extra = await interfaces.start(cfg, app, svc) if interfaces else None
    log.info("api listening", host=cfg.api_host, port=cfg.api_port, db=cfg.effective_db_path)
    if ready:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        sweeper.cancel()
        if scheduler:
            scheduler.cancel()
        if extra:
            await extra.stop()
        await runner.cleanup()
        await app["auth"].close()
        await svc.bus.nc.close()
