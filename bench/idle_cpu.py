"""Idle stack: CPU each service (and the broker) uses while nothing happens.

    cd /work/main && .venv/bin/python bench/idle_cpu.py [--broker kafka|tansu] [--seconds 30]

Starts its own stack (the broker `--broker` names, the four services as processes) on free ports
with fresh databases, lets it settle (`--settle` seconds after every service is ready), then reads
each process's CPU time (utime + stime from /proc/<pid>/stat) at the start and the end of
`--seconds` of idleness. Prints each process's share of one core; the issue's target is the idle
services under 5% of a core (no fetch spin). Linux only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid

from kam_shared import devstack
from kam_shared.services import SERVICES

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    devstack.add_broker_option(parser)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    urls, cleanup = devstack.stack_database_urls("bench_idle")
    run_dir = devstack.VAR / "bench" / f"idle-{uuid.uuid4().hex[:6]}"
    stack = devstack.Stack(database_urls=urls, ports={n: devstack.free_port() for n in SERVICES},
                           log_dir=run_dir / "log", broker_kind=args.broker)
    print(f"starting {args.broker} and the services (logs in {run_dir / 'log'}) ...", file=sys.stderr)
    try:
        stack.start()
        time.sleep(args.settle)
        pids = {name: proc.pid for name, proc in stack.procs.items()}
        broker_proc = getattr(stack.broker, "proc", None) or getattr(stack.broker, "process", None)
        if broker_proc is not None:
            pids["broker"] = broker_proc.pid
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - started
        share = {name: round(100 * (cpu_seconds(pid) - before[name]) / elapsed, 2) for name, pid in pids.items()}
    finally:
        stack.stop()
        cleanup()
        shutil.rmtree(run_dir, ignore_errors=True)
    services = sum(v for k, v in share.items() if k != "broker")
    for name, pct in share.items():
        print(f"{name:16} {pct:6.2f} % of a core")
    print(f"{'services, all':16} {services:6.2f} % of a core (target: under 5 % idle)")
    print(json.dumps({"bench": "idle_cpu", "broker": args.broker, "seconds": round(elapsed, 1),
                      "percent_of_a_core": share, "services_total": round(services, 2), "target_percent": 5}))


if __name__ == "__main__":
    main()
