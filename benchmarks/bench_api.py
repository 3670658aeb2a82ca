"""Benchmark of the Conektor API, side by side in one run, on loopback.

    .venv/bin/python benchmarks/bench_api.py            # full run, writes API_RESULTS.md + JSON
    .venv/bin/python benchmarks/bench_api.py --smoke    # tiny sizes, a few iterations (a test runs it)

It starts its own throw-away PostgreSQL (embedded, fsync off) in a scratch folder, seeds a
year of one-minute data, creates the read-only role, and serves two apps with uvicorn in
subprocesses, one at a time or both idle while the other is measured:

- the real Conektor (`api_service.main:app`, connected as `conektor_reader`);
- a baseline written here: a plain FastAPI endpoint that selects the rows with SQLAlchemy
  and returns them as a list of dicts (FastAPI serialises them).

Measured (client-side wall time, medians after warm-up, the variants interleaved round-robin
so that noise from other work on the machine hits them alike):

1. one day, two variables: `/data` latency for each representation;
2. ten days, two variables: time to a pandas DataFrame in the client, for the baseline and
   each representation of the real API (the bulk one must be >= 3x faster than the baseline);
3. a full year, two variables: `ConektorSession.fetch_window` (the ETL's client), and the
   API server's peak resident memory while serving it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated

import httpx
import numpy as np
import pandas as pd
import psutil
from fastapi import FastAPI, Query

REPO_ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 1, 1, tzinfo=UTC)
VARIABLES = ["wind_speed", "power"]


# -- the baseline: a plain FastAPI endpoint returning a list of dicts ---------------------


def _baseline_app() -> FastAPI:
    from contextlib import asynccontextmanager

    from sqlalchemy import create_engine, select

    from api_service.models import source_table

    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state["engine"] = create_engine(
            os.environ["WIND_API_DB_URL"], connect_args={"options": "-c timezone=UTC"}
        )
        yield
        state["engine"].dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/data")
    def data(
        start: datetime, end: datetime, variables: Annotated[list[str], Query()]
    ) -> list[dict]:
        t = source_table
        query = (
            select(t.c.timestamp, *(t.c[name] for name in variables))
            .where(t.c.timestamp >= start, t.c.timestamp < end)
            .order_by(t.c.timestamp)
        )
        with state["engine"].connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    return app


if os.environ.get("BENCH_BASELINE_APP"):
    baseline_app = _baseline_app()


# -- plumbing ------------------------------------------------------------------------------


class Server:
    """An app under uvicorn in a subprocess (one worker, default event loop and HTTP parser)."""

    def __init__(self, target: str, port: int, env: dict[str, str], cwd: Path, app_dir: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(cwd / f"{target.replace(':', '_')}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--app-dir",
                str(app_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.process = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/docs", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not start; see {self.log.name}")
            time.sleep(0.1)

    def rss(self) -> int:
        return self.process.memory_info().rss

    def peak_rss(self) -> int | None:
        """The kernel's high-water mark of resident memory (Linux), else None."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@contextmanager
def rss_sampler(server: Server, every: float = 0.005) -> Iterator[dict[str, int]]:
    """Sample the server's resident memory in the background; yields {'peak': bytes}."""
    result = {"peak": server.rss()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["peak"] = max(result["peak"], server.rss())
            time.sleep(every)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()


def interleaved(
    variants: dict[str, Callable[[], object]], warmup: int, iterations: int
) -> dict[str, list[float]]:
    """Run each variant in turn, `warmup` untimed rounds then `iterations` timed ones."""
    for _ in range(warmup):
        for run in variants.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(iterations):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p90_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.9))], 3),
        "min_ms": round(ms[0], 3),
        "n": len(ms),
    }


# -- client-side decoding, as a data engineer would do it -----------------------------------


def frame_from_records(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=["timestamp", *VARIABLES])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame.astype(dict.fromkeys(VARIABLES, "float64"))


def frame_from_columns(columns: dict[str, list]) -> pd.DataFrame:
    frame = pd.DataFrame({name: np.array(columns[name], dtype="float64") for name in VARIABLES})
    frame.insert(0, "timestamp", pd.to_datetime(columns["timestamp"], utc=True, format="ISO8601"))
    return frame


def frame_from_csv(content: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(content), dtype=dict.fromkeys(VARIABLES, "float64"))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame


# -- the run ---------------------------------------------------------------------------------


def machine(pg_version: str) -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import fastapi
    import sqlalchemy
    import uvicorn

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "pandas": pd.__version__,
        "httpx": httpx.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def run(smoke: bool) -> dict[str, object]:
    import sqlalchemy as sa

    from wind_pipeline.etl.conektor_client import ConektorSession
    from wind_pipeline.source_data import generate_turbine_data, seed_source
    from wind_stack.db_roles import READER_ROLE, apply_reader_role
    from wind_stack.net import free_port
    from wind_stack.postgres import EmbeddedPostgres

    sizes = (
        {
            "day_iters": (2, 5),
            "bulk_days": 2,
            "bulk_iters": (1, 3),
            "year_days": 3,
            "year_iters": (1, 2),
        }
        if smoke
        else {
            "day_iters": (30, 300),
            "bulk_days": 10,
            "bulk_iters": (3, 30),
            "year_days": 365,
            "year_iters": (1, 7),
        }
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench_api_"))
    servers: list[Server] = []
    postgres = EmbeddedPostgres(scratch / "pgdata", free_port(), durable=False)
    results: dict[str, object] = {"mode": "smoke" if smoke else "full", "sizes": sizes}
    try:
        postgres.start()
        postgres.ensure_database("bench_source")
        owner_url = postgres.url("bench_source")
        engine = sa.create_engine(owner_url)
        seeded = seed_source(engine, generate_turbine_data(days=sizes["year_days"]))
        engine.dispose()
        # A settled table, as a long-lived Source would be (visibility map, statistics).
        engine = sa.create_engine(owner_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE data"))
            pg_version = conn.execute(sa.text("SHOW server_version")).scalar()
        engine.dispose()
        results["machine"] = machine(pg_version)
        results["seeded_rows"] = seeded
        # Every role of the embedded server logs in with its password.
        reader_password = postgres.passwords.get_or_create(READER_ROLE)
        env = {"WIND_API_DB_URL": apply_reader_role(owner_url, reader_password)}

        api = Server("api_service.main:app", free_port(), env, scratch, REPO_ROOT)
        servers.append(api)
        baseline = Server(
            "bench_api:baseline_app",
            free_port(),
            {**env, "BENCH_BASELINE_APP": "1"},
            scratch,
            REPO_ROOT / "benchmarks",
        )
        servers.append(baseline)
        results["idle_rss_mib"] = {
            "api": round(api.rss() / 2**20, 1),
            "baseline": round(baseline.rss() / 2**20, 1),
        }
        client = httpx.Client(timeout=120)

        def params(days: int, **extra: str) -> list[tuple[str, str]]:
            end = START + timedelta(days=days)
            query = [("start", START.isoformat()), ("end", end.isoformat())]
            return query + [("variables", v) for v in VARIABLES] + list(extra.items())

        def get(url: str, query: list[tuple[str, str]]) -> httpx.Response:
            response = client.get(url, params=query)
            response.raise_for_status()
            return response

        # 1. one day, two variables: latency of the round trip (body fully received).
        day: dict[str, Callable[[], object]] = {
            layout: partial(get, f"{api.url}/data", params(1, format=layout))
            for layout in ("records", "columns", "csv")
        }
        day["baseline (list of dicts)"] = partial(get, f"{baseline.url}/data", params(1))
        warm, n = sizes["day_iters"]
        results["one_day"] = {k: summary(v) for k, v in interleaved(day, warm, n).items()}

        # 2. ten days, two variables: from the request to a DataFrame in the client.
        bulk_days = sizes["bulk_days"]
        expected_rows = bulk_days * 1440
        last: dict[str, pd.DataFrame] = {}

        def decoded(name: str, url: str, query, decode) -> Callable[[], None]:
            def go() -> None:
                last[name] = decode(get(url, query))

            return go

        bulk = {
            "baseline (list of dicts)": decoded(
                "baseline",
                f"{baseline.url}/data",
                params(bulk_days),
                lambda r: frame_from_records(r.json()),
            ),
            "records": decoded(
                "records",
                f"{api.url}/data",
                params(bulk_days),
                lambda r: frame_from_records(r.json()["data"]),
            ),
            "columns": decoded(
                "columns",
                f"{api.url}/data",
                params(bulk_days, format="columns"),
                lambda r: frame_from_columns(r.json()["data"]),
            ),
            "csv": decoded(
                "csv",
                f"{api.url}/data",
                params(bulk_days, format="csv"),
                lambda r: frame_from_csv(r.content),
            ),
        }
        warm, n = sizes["bulk_iters"]
        bulk_times = interleaved(bulk, warm, n)
        for name, frame in last.items():
            if len(frame) != expected_rows:
                raise RuntimeError(f"{name} gave {len(frame)} rows, expected {expected_rows}")
            pd.testing.assert_frame_equal(frame, last["csv"], check_dtype=False)
        bulk_http = interleaved(
            {
                "baseline (list of dicts)": lambda: get(f"{baseline.url}/data", params(bulk_days)),
                "csv": lambda: get(f"{api.url}/data", params(bulk_days, format="csv")),
            },
            1,
            n,
        )
        base = statistics.median(bulk_times["baseline (list of dicts)"])
        results["bulk"] = {
            "days": bulk_days,
            "rows": expected_rows,
            "to_dataframe": {
                k: {**summary(v), "speedup_vs_baseline": round(base / statistics.median(v), 2)}
                for k, v in bulk_times.items()
            },
            "http_only": {k: summary(v) for k, v in bulk_http.items()},
            "baseline_peak_rss_mib": round((baseline.peak_rss() or baseline.rss()) / 2**20, 1),
        }

        # 3. a year, two variables, by the ETL's client; the server's peak memory meanwhile.
        year_start, year_end = START, START + timedelta(days=sizes["year_days"])
        rows_read: list[int] = []
        session = ConektorSession(api.url, timeout_seconds=120)

        def etl_client_year() -> None:
            frame = session.fetch_window(year_start, year_end, VARIABLES)
            rows_read.append(len(frame))

        def columns_walk_year() -> None:
            query = [
                ("start", year_start.isoformat()),
                ("end", year_end.isoformat()),
                ("format", "columns"),
                ("limit", "100000"),
            ] + [("variables", v) for v in VARIABLES]
            response = get(f"{api.url}/data", query)
            frames = [frame_from_columns(response.json()["data"])]
            while response.json()["next"]:
                response = client.get(response.json()["next"])
                frames.append(frame_from_columns(response.json()["data"]))
            rows_read.append(len(pd.concat(frames)))

        warm, n = sizes["year_iters"]
        requests_before = session.stats.requests
        with rss_sampler(api) as sampled:
            year_times = interleaved(
                {
                    "csv (ConektorSession.fetch_window)": etl_client_year,
                    "columns (JSON walk)": columns_walk_year,
                },
                warm,
                n,
            )
        pages = (session.stats.requests - requests_before) // (warm + n)
        session.close()
        if set(rows_read) != {seeded}:
            raise RuntimeError(f"year reads gave {sorted(set(rows_read))} rows, expected {seeded}")
        results["year"] = {
            "days": sizes["year_days"],
            "rows": seeded,
            "pages_per_read": pages,
            "read": {k: summary(v) for k, v in year_times.items()},
            "api_rss_mib": {
                "idle": results["idle_rss_mib"]["api"],
                "peak_sampled": round(sampled["peak"] / 2**20, 1),
                "peak_vmhwm": round((api.peak_rss() or sampled["peak"]) / 2**20, 1),
            },
        }
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        client.close()
    finally:
        for server in servers:
            server.stop()
        postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return results


# -- report ------------------------------------------------------------------------------------


def markdown(results: dict) -> str:
    m = results["machine"]
    one_day, bulk, year = results["one_day"], results["bulk"], results["year"]
    lines = [
        f"Mode: **{results['mode']}**. Machine: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB; {m['os']}; Python {m['python']}; PostgreSQL {m['postgresql']} "
        f"(embedded, fsync off); FastAPI {m['fastapi']}, uvicorn {m['uvicorn']}, "
        f"SQLAlchemy {m['sqlalchemy']}, pandas {m['pandas']}, httpx {m['httpx']}. "
        f"Load average at start {m['load_average_at_start']}, at end "
        f"{m.get('load_average_at_end')} (the machine is shared: read the ratios).",
        "",
        "### 1. One day, two variables (1,440 rows): `/data` round trip",
        "",
        "| representation | median ms | p90 ms | min ms | n |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in one_day.items():
        lines.append(f"| {name} | {s['median_ms']} | {s['p90_ms']} | {s['min_ms']} | {s['n']} |")
    lines += [
        "",
        f"### 2. {bulk['days']} days, two variables ({bulk['rows']:,} rows): request to a DataFrame",
        "",
        "| variant | median ms | p90 ms | min ms | n | speed-up vs baseline |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in bulk["to_dataframe"].items():
        lines.append(
            f"| {name} | {s['median_ms']} | {s['p90_ms']} | {s['min_ms']} | {s['n']} "
            f"| {s['speedup_vs_baseline']}x |"
        )
    http = bulk["http_only"]
    lines += [
        "",
        f"HTTP only (body received, not decoded): baseline {http['baseline (list of dicts)']['median_ms']} ms, "
        f"csv {http['csv']['median_ms']} ms "
        f"({http['baseline (list of dicts)']['median_ms'] / http['csv']['median_ms']:.1f}x).",
        "",
        f"### 3. A year, two variables ({year['rows']:,} rows, {year['pages_per_read']} pages of 100,000)",
        "",
        "| reader | median ms | p90 ms | min ms | n |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in year["read"].items():
        lines.append(f"| {name} | {s['median_ms']} | {s['p90_ms']} | {s['min_ms']} | {s['n']} |")
    rss = year["api_rss_mib"]
    lines += [
        "",
        f"API server resident memory: {rss['idle']} MiB idle, peak {rss['peak_vmhwm']} MiB "
        f"(kernel high-water mark, VmHWM) / {rss['peak_sampled']} MiB (sampled every 5 ms) "
        f"while serving these year reads. The baseline server peaked at "
        f"{bulk['baseline_peak_rss_mib']} MiB on the {bulk['days']}-day query alone.",
    ]
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- bench_api results: begin -->", "<!-- bench_api results: end -->"


def verdicts(results: dict) -> str:
    one_day = results["one_day"]["records"]["median_ms"]
    speedup = results["bulk"]["to_dataframe"]["csv"]["speedup_vs_baseline"]
    year = results["year"]["read"]["csv (ConektorSession.fetch_window)"]["median_ms"]
    rss = results["year"]["api_rss_mib"]["peak_vmhwm"]
    rows = [
        ("1 day, 2 variables, JSON records, median", "<= 8 ms", f"{one_day:.2f} ms", one_day <= 8),
        (
            f"{results['bulk']['days']} days, 2 variables, CSV vs list-of-dicts baseline",
            ">= 3x",
            f"{speedup:.2f}x",
            speedup >= 3,
        ),
        ("a year, 2 variables, ETL client, median", "<= 2 s", f"{year / 1000:.2f} s", year <= 2000),
        ("API server peak RSS during the year reads", "stated", f"{rss} MiB", True),
    ]
    lines = ["| target | wanted | measured | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {'yes' if d else '**no**'} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, results: dict) -> None:
    """Replace the generated block of `path` (between the markers), keeping the prose around it."""
    block = f"{BEGIN}\n{verdicts(results)}\n{markdown(results)}{END}"
    text = path.read_text() if path.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} block to replace")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few iterations")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument(
        "--markdown", type=Path, help="replace the results block of this Markdown file"
    )
    args = parser.parse_args(argv)
    results = run(args.smoke)
    print(verdicts(results))
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        write_markdown(args.markdown, results)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    raise SystemExit(main())
