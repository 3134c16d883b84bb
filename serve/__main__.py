"""`python -m serve` (make serve N=4): N Streamlit processes and HAProxy in front; Ctrl-C stops them all.

python -m serve --processes 4                       # one machine: http://127.0.0.1:8501
python -m serve --processes 2 --no-balancer --address 0.0.0.0 --first-port 8601
                                                    # a machine whose balancer runs elsewhere
python -m serve --print-config --backend a:8601 --backend a:8602 --backend b:8601 --address 0.0.0.0
                                                    # that balancer's haproxy.cfg
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from serve import (
    INSTALL_HINT,
    Backend,
    check_haproxy_config,
    find_haproxy,
    haproxy_config,
    start_haproxy,
    start_streamlit,
    stop,
    wait_healthy,
)


def parse(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="python -m serve", description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="Streamlit processes (one a core)")
    parser.add_argument(
        "--address", default="127.0.0.1", help="where the balancer (or, without it, each process) listens"
    )
    parser.add_argument("--port", type=int, default=8501, help="the balancer's port: the one address students open")
    parser.add_argument(
        "--first-port", type=int, help="the processes listen on this and the next ports (default port+100)"
    )
    parser.add_argument("--no-balancer", action="store_true", help="only the processes (a balancer elsewhere)")
    parser.add_argument("--print-config", action="store_true", help="print haproxy.cfg for --backend host:port ...")
    parser.add_argument("--backend", action="append", default=[], help="host:port of a Streamlit process (repeat)")
    args = parser.parse_args(argv)
    if not 1 <= args.processes <= 64:
        parser.error(f"--processes must be 1 to 64, got {args.processes}")
    first = args.first_port if args.first_port is not None else args.port + 100
    if not 0 < args.port < 65536 or not 0 < first <= 65536 - args.processes:
        parser.error("ports must be 1 to 65535")
    try:
        args.backends = [Backend.parse(b) for b in args.backend]
    except ValueError as exc:
        parser.error(str(exc))
    if args.print_config and not args.backends:
        parser.error("--print-config needs at least one --backend host:port")
    args.ports = list(range(first, first + args.processes))
    return args


def supervise(servers: dict, procs: list, balancer, address: str) -> int:
    """Until haproxy ends: a process that ends is started again (its students reconnect to a fresh
    session there; their URL holds the view). procs tracks every live process for the final stop."""
    while True:
        time.sleep(1)
        if balancer is not None and balancer.poll() is not None:
            print(f"error: haproxy ended with status {balancer.returncode}", file=sys.stderr)
            return 1
        for port, proc in list(servers.items()):
            if proc.poll() is not None:
                print(f"process on port {port} ended ({proc.returncode}); restarting it", file=sys.stderr, flush=True)
                procs.remove(proc)
                servers[port] = start_streamlit(address, port)
                procs.append(servers[port])


def run(args) -> int:
    """Start everything, keep the processes up (a crashed one restarts), stop all on Ctrl-C or SIGTERM."""
    if not args.no_balancer and find_haproxy() is None:
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    behind = "127.0.0.1" if not args.no_balancer else args.address  # behind a local balancer: loopback only
    servers = {port: start_streamlit(behind, port) for port in args.ports}
    procs = list(servers.values())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even when started with it ignored (&)
    try:
        for port, proc in servers.items():
            wait_healthy(f"http://127.0.0.1:{port}", proc)
        balancer = None
        if not args.no_balancer:
            folder = Path(tempfile.mkdtemp(prefix="latent-explorer-haproxy-"))
            config = folder / "haproxy.cfg"
            config.write_text(haproxy_config([Backend("127.0.0.1", p) for p in args.ports], args.address, args.port))
            problem = check_haproxy_config(config)
            if problem:
                print(f"error: haproxy refused {config}: {problem}", file=sys.stderr)
                return 1
            balancer = start_haproxy(config)
            procs.append(balancer)
            print(
                f"Latent Explorer: http://{args.address}:{args.port} -> {len(servers)} processes (ports {args.ports})"
            )
            print(f"HAProxy config: {config}. Ctrl-C stops everything.", flush=True)
        else:
            print(f"{len(servers)} processes on {args.address}, ports {args.ports}. Ctrl-C stops them.", flush=True)
        return supervise(servers, procs, balancer, behind)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stop(procs)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.print_config:
        print(haproxy_config(args.backends, args.address, args.port), end="")
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
