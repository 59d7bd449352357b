"""Chaos suite: ``python -m chaos`` (``make chaos``), about 4 minutes, loopback only.

While events stream in through ingest (a producer that retries 503s and connection errors and
keeps the ids ingest acknowledged), the orchestrator, the notifier and ingest are killed with
SIGKILL and restarted, the database is cut at a TCP proxy (the shared PostgreSQL server is never
stopped), the SMTP and SMS endpoints fail (4xx/5xx, connection refused) and slow down, and poison
messages are produced straight to the engagement topic. Then the invariants in
``chaos/verify.py`` are checked; exits 1 if any fails. Needs PostgreSQL at 127.0.0.1:5432.

    python -m chaos [--seconds 150] [--rate 60] [--every 6]
    python -m chaos --seconds 20 --every 2.5 --outage 3     # the CI smoke round
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bench.stack import postgres_reachable
from chaos.run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=150, help="how long events stream in")
    parser.add_argument("--rate", type=float, default=60, help="events per second")
    parser.add_argument("--every", type=float, default=6, help="seconds between faults")
    parser.add_argument("--outage", type=float, default=6, help="seconds each outage lasts")
    parser.add_argument("--settle", type=float, default=120, help="deadline to catch up")
    parser.add_argument("--quiet", type=float, default=10, help="no new message for this long")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it after")
    parser.add_argument(
        "--workdir", type=Path, help="logs and data here (default: a new temporary directory)"
    )
    args = parser.parse_args(argv)
    if not asyncio.run(postgres_reachable()):
        print("chaos: PostgreSQL at 127.0.0.1:5432 is not reachable", file=sys.stderr)
        return 2
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
