"""Run benchmarks: ``python -m bench`` (all) or ``python -m bench NAME [options]``."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "kafka": "bench.kafka",
    "orchestrator": "bench.orchestrator",
    "notifier": "bench.notifier",
    "ingest": "bench.ingest",
    "speed_to_lead": "bench.speed_to_lead",
    "e2e": "bench.e2e",
    "rolling_restart": "bench.rolling_restart",
    "retention": "bench.retention",
    "dev_ready": "bench.dev_ready",
    "render": "bench.render",
    "funnel_kpis": "bench.funnel_kpis",
    "account_plays": "bench.account_plays",
    "import": "bench.import_history",
}


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        print("available:", ", ".join(BENCHMARKS))
        return
    names = [args.pop(0)] if args and not args[0].startswith("-") else list(BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS:
            sys.exit(f"unknown benchmark {name!r}; available: {', '.join(BENCHMARKS)}")
        importlib.import_module(BENCHMARKS[name]).cli(args)


if __name__ == "__main__":
    main()
