"""Fallback HTTP load generator (asyncio + httpx) for when `wrk` is not installed.

It prints the same `BENCH_JSON {...}` line as bench/lookup.lua's `done()`. It is much heavier
than wrk: on a 2-core machine it takes CPU the server would otherwise use, so its figures
are lower bounds and not comparable with wrk's.

    .venv/bin/python bench/_pyload.py URL_PREFIX [LINES_FILE] --connections 32 --duration 20 \
        --header "Authorization: Bearer …"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

import httpx


async def run(
    base: str, paths: list[str], connections: int, duration: float, headers: dict[str, str]
) -> dict[str, float]:
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "status": 0, "timeout": 0}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    deadline = time.perf_counter() + duration
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def one_connection() -> None:
            while time.perf_counter() < deadline:
                path = random.choice(paths)
                started = time.perf_counter()
                try:
                    response = await client.get(path, timeout=5.0)
                    if response.status_code >= 400:
                        errors["status"] += 1
                except httpx.TimeoutException:
                    errors["timeout"] += 1
                    continue
                except httpx.ConnectError:
                    errors["connect"] += 1
                    continue
                except httpx.HTTPError:
                    errors["read"] += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6

    return {
        "requests": len(latencies) + errors["connect"] + errors["read"] + errors["timeout"],
        "duration_us": elapsed * 1e6,
        "connect_errors": errors["connect"],
        "read_errors": errors["read"],
        "write_errors": 0,
        "status_errors": errors["status"],
        "timeouts": errors["timeout"],
        "p50_us": pct(50),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "max_us": latencies[-1] * 1e6 if latencies else 0.0,
        "mean_us": sum(latencies) / len(latencies) * 1e6 if latencies else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", help="http://host:port/path-prefix")
    parser.add_argument("lines", nargs="?", type=Path, help="suffixes to append, one a line")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    scheme, _, rest = args.url.partition("://")
    host, _, path = rest.partition("/")
    base = f"{scheme}://{host}"
    prefix = "/" + path
    suffixes = args.lines.read_text().split() if args.lines else [""]
    headers = dict(h.split(": ", 1) for h in args.header)
    result = asyncio.run(
        run(base, [prefix + s for s in suffixes], args.connections, args.duration, headers)
    )
    print("BENCH_JSON " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
