"""The gRPC server of the API process: netledger.v1, reflection and health."""

from __future__ import annotations

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from . import convert
from .gen import netledger_v1_pb2 as pb
from .gen import netledger_v1_pb2_grpc as pb_grpc
from .hub import Hub
from .servicers import Caller, CollectionServicer
from .watch import EventsServicer

log = structlog.get_logger("grpc")


def _add_events(server, servicer) -> None:
    """Events.Watch with pre-serialised responses: a Change shared by N streams is
    serialised once (the generated registration would serialise it per stream)."""
    handlers = {"Watch": grpc.unary_stream_rpc_method_handler(
        servicer.Watch, request_deserializer=pb.WatchRequest.FromString, response_serializer=bytes)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("netledger.v1.Events", handlers),))
    server.add_registered_method_handlers("netledger.v1.Events", handlers)


async def start(cfg, app, svc) -> grpc.aio.Server | None:
    """Serve on cfg.grpc_host:grpc_port; None (logged) if the port cannot be bound, so
    a busy port never takes the REST API down with it."""
    # No SO_REUSEPORT: two unrelated processes must not silently share one port.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    caller = Caller(app)
    names = []
    for service, collection, member in convert.COLLECTIONS:
        getattr(pb_grpc, f"add_{service}Servicer_to_server")(CollectionServicer(caller, collection, member), server)
        names.append(pb.DESCRIPTOR.services_by_name[service].full_name)
    hub = Hub(svc.bus)
    await hub.start()
    server.netledger_hub = hub   # stopped with the server (services/interfaces.py)
    _add_events(server, EventsServicer(caller, hub))
    names.append(pb.DESCRIPTOR.services_by_name["Events"].full_name)
    checker = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    address = f"{cfg.grpc_host}:{cfg.grpc_port}"
    try:
        server.add_insecure_port(address)
    except RuntimeError as exc:
        log.error("grpc port unavailable", address=address, error=repr(exc))
        return None
    await server.start()
    for name in ["", *names]:
        status = health_pb2.HealthCheckResponse.SERVING
        result = checker.set(name, status)
        if hasattr(result, "__await__"):
            await result
    log.info("grpc listening", address=address)
    return server
