"""``make bench``: every benchmark, printed as figures (never asserted)."""

from __future__ import annotations

import importlib
import os
import sys
import time


def _section(title: str) -> None:
    sys.stdout.write(f"\n== {title}\n")
    sys.stdout.flush()


def _call_main(mod) -> None:
    """Benchmarks differ in shape: plain main(), main(argv) or async main(args)."""
    import argparse
    import asyncio
    import inspect

    params = inspect.signature(mod.main).parameters
    if inspect.iscoroutinefunction(mod.main):
        args = argparse.Namespace(ports=200, restart_ports=1000, backend="ovs")
        asyncio.run(mod.main(args) if params else mod.main())
    elif params and list(params)[0] == "argv":
        mod.main([])
    else:
        mod.main()


def main() -> None:
    only = set(sys.argv[1:])
    started = time.perf_counter()
    if not only or "api" in only:
        from . import bench_api

        _section("API (one API process, fsync-before-ack NATS; 1 and 16 concurrent clients)")
        for name, fig in bench_api.main(int(os.environ.get("BENCH_API_OPS", "1000"))):
            sys.stdout.write(f"{name:24s} clients={fig['clients']:<3d} {fig['ops_s']:8.1f} ops/s  "
                             f"p50 {fig['p50_ms']:6.1f} ms  p99 {fig['p99_ms']:6.1f} ms  errors {fig['errors']}\n")
    if not only or "projection" in only:
        from . import bench_projection

        _section("Projection rebuild (events folded per second)")
        fig = bench_projection.main(int(os.environ.get("BENCH_PROJECTION_EVENTS", "100000")))
        sys.stdout.write(f"{fig['messages']} events folded in {fig['seconds']} s = {fig['per_second']} events/s\n")
    for name in ("bench_l2", "bench_active", "bench_sg", "bench_l3", "bench_dhcp", "bench_lb", "bench_fw", "bench_vpn"):
        if only and name.removeprefix("bench_") not in only:
            continue
        try:
            mod = importlib.import_module(f"netledger.bench.{name}")
        except ImportError:
            continue
        _section(name.removeprefix("bench_").upper())
        if os.geteuid() != 0:
            sys.stdout.write("skipped: needs root (network namespaces, OVS)\n")
            continue
        _call_main(mod)
    sys.stdout.write(f"\n(total {time.perf_counter() - started:.0f} s)\n")


if __name__ == "__main__":
    main()
