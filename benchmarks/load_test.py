"""Bounded load test of the Conektor API: N concurrent clients asking `/data` for one-day windows.

Loopback only. Starts its own embedded PostgreSQL (or uses WIND_TEST_PG_URL, an admin URL,
creating and dropping a scratch database), seeds the default ten days, and runs the API as
`make up` does (uvicorn, one process, the default pool). Then `--clients` clients loop for
`--seconds` (or until `--max-requests`), each asking for a random day of wind_speed and power
in the ETL's columns layout, and checking every answer holds 1,440 rows.

Pass criteria (exit 1 otherwise): zero errors, and the pool never exhausted: no 503 (the
API's answer to a connection checkout that timed out) and the API's server-side connections,
sampled every 0.1 s from pg_stat_activity, never above pool_size + max_overflow. (Reaching
that ceiling is allowed: requests then queue for a connection, within the pool timeout.)

    make loadtest                      # or: .venv/bin/python benchmarks/load_test.py
    .venv/bin/python benchmarks/load_test.py --clients 32 --seconds 20 --output results.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from api_service.settings import ApiSettings  # noqa: E402
from wind_pipeline.source_data import generate_turbine_data, seed_source  # noqa: E402
from wind_stack.api_process import api_command  # noqa: E402
from wind_stack.net import free_port, wait_for_http  # noqa: E402
from wind_stack.postgres import EmbeddedPostgres  # noqa: E402

DAYS = [f"2024-01-{day:02d}" for day in range(1, 11)]


def _source_database(stack: ExitStack) -> str:
    """A seeded Source: on WIND_TEST_PG_URL's server if given, else on a new embedded server."""
    admin = os.environ.get("WIND_TEST_PG_URL")
    if not admin:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wind_load_")))
        server = EmbeddedPostgres(folder / "pgdata", free_port(), durable=False)
        server.start()
        stack.callback(server.stop)
        admin = server.url()
    name = f"wind_load_{os.getpid()}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    stack.callback(drop)
    url = sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    seed_engine = sa.create_engine(url)
    seed_source(seed_engine, generate_turbine_data())
    seed_engine.dispose()
    return url


def _start_api(stack: ExitStack, source_url: str) -> str:
    port = free_port()
    log = stack.enter_context(tempfile.TemporaryFile())
    proc = subprocess.Popen(
        api_command(port, "--log-level", "warning"),
        cwd=REPO_ROOT,
        env={**os.environ, "WIND_API_DB_URL": source_url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def stop() -> None:
        proc.terminate()
        proc.wait(10)

    stack.callback(stop)
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{url}/health", timeout=30):
        log.seek(0)
        raise SystemExit(f"the API did not start:\n{log.read().decode()[-2000:]}")
    return url


class ConnectionSampler(threading.Thread):
    """Samples how many server connections the API holds to the Source database."""

    def __init__(self, source_url: str, interval: float = 0.1):
        super().__init__(daemon=True)
        self.engine = sa.create_engine(source_url, poolclass=sa.pool.NullPool)
        self.interval = interval
        self.samples: list[int] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop_event.is_set():
                count = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend'"
                    )
                ).scalar_one()
                self.samples.append(int(count))
                conn.rollback()
                time.sleep(self.interval)
        self.engine.dispose()


async def _client(
    http: httpx.AsyncClient,
    deadline: float,
    budget: list[int],
    latencies: list[float],
    errors: Counter,
    statuses: Counter,
    rng: random.Random,
) -> None:
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        day = rng.choice(DAYS)
        params = [
            ("start", f"{day}T00:00:00Z"),
            ("end", f"{_next_day(day)}T00:00:00Z"),
            ("variables", "wind_speed"),
            ("variables", "power"),
            ("format", "columns"),
        ]
        started = time.perf_counter()
        try:
            response = await http.get("/data", params=params)
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] += 1
            continue
        latencies.append(time.perf_counter() - started)
        statuses[response.status_code] += 1
        if response.status_code != 200:
            errors[f"HTTP {response.status_code}"] += 1
        elif '"row_count": 1440' not in response.text[:300]:
            errors["wrong row count"] += 1


def _next_day(day: str) -> str:
    return "2024-01-11" if day == "2024-01-10" else f"2024-01-{int(day[-2:]) + 1:02d}"


async def _load(api_url: str, clients: int, seconds: float, max_requests: int) -> dict:
    latencies: list[float] = []
    errors: Counter = Counter()
    statuses: Counter = Counter()
    budget = [max_requests]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60) as http:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(
                _client(http, deadline, budget, latencies, errors, statuses, random.Random(i))
                for i in range(clients)
            )
        )
        elapsed = time.monotonic() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)

    return {
        "requests": max_requests - budget[0],
        "responses": dict(statuses),
        "errors": dict(errors),
        "elapsed_seconds": round(elapsed, 2),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "max": round(1000 * ordered[-1], 1),
            "mean": round(1000 * statistics.fmean(ordered), 1),
        }
        if ordered
        else {},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    load_before = [round(x, 2) for x in os.getloadavg()]
    settings = ApiSettings()
    pool_limit = 2 * settings.pool_size  # pool_size + max_overflow (api_service/db.py)
    with ExitStack() as stack:
        source_url = _source_database(stack)
        api_url = _start_api(stack, source_url)
        sampler = ConnectionSampler(source_url)
        sampler.start()
        result = asyncio.run(_load(api_url, args.clients, args.seconds, args.max_requests))
        sampler.stop_event.set()
        sampler.join(5)

    peak = max(sampler.samples, default=0)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_before": load_before,  # the machine may be shared: read figures with it
        "clients": args.clients,
        "seconds": args.seconds,
        "max_requests": args.max_requests,
        "window": "one UTC day, wind_speed + power, format=columns (1,440 rows)",
        **result,
        "api_pool_limit": pool_limit,
        "api_db_connections_peak": peak,
    }
    exhausted = peak > pool_limit or result["responses"].get(503, 0) > 0
    report["passed"] = not result["errors"] and not exhausted
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
