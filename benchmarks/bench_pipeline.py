"""`make bench`: every stage of the pipeline next to its floor, measured in one run.

Starts its own stack (embedded PostgreSQL + the Conektor API under uvicorn) in a scratch
folder, runs each scenario several times after a warm-up, and writes
`benchmarks/RESULTS.md` and `benchmarks/results.json`. Every target is a ratio or a
throughput measured beside its reference, because the machine is noisy.

    python -m benchmarks.bench_pipeline            # full run, writes the committed results
    python -m benchmarks.bench_pipeline --smoke    # tiny sizes, one iteration (the test suite runs this)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from benchmarks.bench_api import machine
from wind_pipeline.db import make_engine
from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.conektor_client import ConektorSession
from wind_pipeline.etl.days import day_start
from wind_pipeline.etl.pipeline import run_etl
from wind_pipeline.pg_copy import copy_frame
from wind_pipeline.source_data import generate_turbine_data, seed_source
from wind_pipeline.target_models import create_target_schema
from wind_stack.dagster_instance import RUN_ENVIRONMENT
from wind_stack.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FIRST_DAY = date(2024, 1, 1)

SQL_FLOOR = sa.text(
    """
    SELECT date_bin('10 minutes', timestamp, TIMESTAMPTZ '2024-01-01 00:00Z') AS bucket,
           avg(wind_speed), min(wind_speed), max(wind_speed), stddev_samp(wind_speed),
           avg(power), min(power), max(power), stddev_samp(power)
    FROM data WHERE timestamp >= :start AND timestamp < :end
    GROUP BY bucket ORDER BY bucket
    """
)

NOOP_CODE_LOCATION = textwrap.dedent(
    '''
    """Dagster's own floor: no-op daily-partitioned assets, in a scratch code location.

    `noop`: nothing at all (Dagster's default executor), the floor of one materialization.
    `noop_checked`: a single-run backfill that records what wind_10min_aggregates records per
    partition (one materialization with metadata, one verdict of each of its four checks),
    with the same executor, and does no work: the floor of a backfill.
    Both run on the same Dagster instance as wind_pipeline (the stack's dagster.yaml) and with
    the same environment (event batching).
    """
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore")
    PARTS = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")
    CHECKS = ["complete", "consistent", "matches_source", "source_coverage"]


    @dg.asset(partitions_def=PARTS)
    def noop(context: dg.AssetExecutionContext) -> None:
        """Does nothing."""


    @dg.asset(partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
    def noop_checked(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Records one materialization per partition, with a little metadata."""
        for key in context.partition_keys:
            context.add_asset_metadata({"rows_written": 1152}, partition_key=key)
        return dg.MaterializeResult()


    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec(n, asset="noop_checked", partitions_def=PARTS) for n in CHECKS],
        can_subset=True,
    )
    def noop_checks(context: dg.AssetCheckExecutionContext):
        for key in context.partition_keys:
            for name in CHECKS:
                yield dg.AssetCheckEvaluation(
                    asset_key=dg.AssetKey("noop_checked"), check_name=name, passed=True, partition=key
                )
        assets_def = context.op_execution_context.assets_def
        for spec in context.check_specs:
            yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(spec.key))


    defs = dg.Definitions(assets=[noop])
    checked_defs = dg.Definitions(
        assets=[noop_checked], asset_checks=[noop_checks], executor=dg.in_process_executor
    )
    '''
)


def measure(fn: Callable[[], object], repeat: int, warmup: int = 1) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


def _rss_peak_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Bench:
    def __init__(self, root: Path, smoke: bool):
        self.root = root
        self.smoke = smoke
        self.repeat = 1 if smoke else 5
        self.warmup = 0 if smoke else 1
        # The stack writes dagster_home/dagster.yaml: the instance `make run` and `make dev` use.
        self.stack = LocalStack(root / ".stack", root / ".env", root / "dagster_home")
        self.results: dict[str, object] = {"smoke": smoke}

    # -- set-up --------------------------------------------------------------------------
    def start(self) -> None:
        self.stack.up()
        settings = self.stack.settings()
        self.source_url = settings["WIND_SOURCE_DB_URL"]
        self.target_url = settings["WIND_TARGET_DB_URL"]
        self.api_url = settings["WIND_API_URL"]
        self.source = make_engine(self.source_url)
        self.target = make_engine(self.target_url)
        with self.source.connect() as conn:
            self.results["machine"] = machine(conn.execute(sa.text("SHOW server_version")).scalar())
        create_target_schema(self.target)

    def stop(self) -> None:
        for engine in (getattr(self, "source", None), getattr(self, "target", None)):
            if engine is not None:
                engine.dispose()
        self.stack.down()

    def _env(self) -> dict[str, str]:
        home = self.stack.dagster_home
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WIND_", "DAGSTER_"))}
        env.update(self.stack.settings())
        env["DAGSTER_HOME"] = str(home)
        # A year of partitions: live mode's, which run to yesterday (fixed mode's end with the
        # design card's 2024-01-10; wind_pipeline/mode.py).
        env["WIND_LIVE"] = "true"
        # What `make run` / `make dev` set (event batching); an operator's own value wins.
        env.update({key: os.environ.get(key, value) for key, value in RUN_ENVIRONMENT.items()})
        return env

    # -- scenarios -----------------------------------------------------------------------
    def seed(self, days: int) -> dict[str, float]:
        timing = measure(
            lambda: seed_source(self.source, generate_turbine_data(days=days)),
            self.repeat,
            self.warmup,
        )
        rows = days * 1440
        return {**timing, "rows": rows, "rows_per_s": rows / timing["median"]}

    def etl_day(self, day: date) -> dict[str, object]:
        with self.target.connect() as conn:
            ids = dict(conn.execute(sa.text("SELECT name, id FROM signal")).all())
        start, end = day_start(day), day_start(day + timedelta(days=1))

        def floor() -> None:
            with self.source.connect() as conn:
                rows = conn.execute(SQL_FLOOR, {"start": start, "end": end}).all()
            buckets = pd.to_datetime([r[0] for r in rows], utc=True)
            parts = []
            for i, name in enumerate(SIGNAL_NAMES):
                values = [r[i + 1] for r in rows]
                parts.append(
                    pd.DataFrame({"signal_id": ids[name], "timestamp": buckets, "value": values})
                )
            frame = pd.concat(parts, ignore_index=True)
            with self.target.begin() as conn:
                conn.execute(
                    sa.text("DELETE FROM data WHERE timestamp >= :s AND timestamp < :e"),
                    {"s": start, "e": end},
                )
                copy_frame(
                    conn.connection.dbapi_connection.cursor(),
                    "data",
                    frame,
                    [("signal_id", "int4"), ("timestamp", "timestamptz"), ("value", "float8")],
                )

        with ConektorSession(self.api_url) as session:
            etl = measure(
                lambda: run_etl(session, self.target, [day]), self.repeat * 4, self.warmup
            )
        sql = measure(floor, self.repeat * 4, self.warmup)
        return {"etl_core": etl, "sql_floor": sql, "ratio": etl["median"] / sql["median"]}

    def cli(self, args: list[str], cwd: Path | None = None) -> tuple[float, int | None]:
        """Run `dagster asset materialize ARGS`; return (seconds, peak RSS in KiB)."""
        # Dagster logs every event to stderr: a file, never an unread pipe (it would fill up
        # and block the run).
        with tempfile.TemporaryFile() as log:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [str(BIN / "dagster"), "asset", "materialize", *args],
                env=self._env(),
                cwd=cwd or self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"dagster asset materialize {args} failed: {tail}")
        return elapsed, usage.ru_maxrss

    def backfill(self, days: int) -> dict[str, object]:
        last = FIRST_DAY + timedelta(days=days - 1)
        args = [
            "-m",
            "wind_pipeline.definitions",
            "--select",
            "wind_10min_aggregates",
            "--partition-range",
            f"{FIRST_DAY}...{last}",
        ]
        floor_args = [
            "-f",
            str(self._noop_file()),
            "-a",
            "checked_defs",
            "--select",
            "noop_checked",
            "--partition-range",
            f"{FIRST_DAY}...{last}",
        ]
        samples, rss, floor = [], [], []
        if self.warmup:
            # The first run of a size warms the Source's and Target's caches and the instance.
            self.cli(args)
            self.cli(floor_args, cwd=self._noop_file().parent)
        for _ in range(max(1, self.repeat - 2)):  # interleaved with the floor
            elapsed, peak = self.cli(args)
            samples.append(elapsed)
            rss.append(peak)
            floor.append(self.cli(floor_args, cwd=self._noop_file().parent)[0])
        api_pid = self.stack.api_pid()
        return {
            "days": days,
            "median": statistics.median(samples),
            "min": min(samples),
            "max": max(samples),
            "dagster_floor": statistics.median(floor),
            "ratio_to_floor": statistics.median(samples) / statistics.median(floor),
            "per_day": statistics.median(samples) / days,
            "run_peak_rss_mib": max(r for r in rss if r) / 1024 if any(rss) else None,
            "api_peak_rss_mib": (_rss_peak_kib(api_pid) or 0) / 1024 if api_pid else None,
        }

    def _noop_file(self) -> Path:
        scratch = self.root / "noop"
        scratch.mkdir(exist_ok=True)
        path = scratch / "noop_defs.py"
        if not path.exists():
            path.write_text(NOOP_CODE_LOCATION)
        return path

    def one_partition_vs_noop(self) -> dict[str, object]:
        scratch = self._noop_file().parent
        ours_args = [
            "-m",
            "wind_pipeline.definitions",
            "--select",
            "wind_10min_aggregates",
            "--partition",
            "2024-01-02",
        ]
        noop_args = [
            "-f",
            str(scratch / "noop_defs.py"),
            "-a",
            "defs",
            "--select",
            "noop",
            "--partition",
            "2024-01-02",
        ]
        ours, noop = [], []
        self.cli(ours_args)
        self.cli(noop_args)
        for _ in range(self.repeat):  # interleaved, so drift hits both alike
            ours.append(self.cli(ours_args)[0])
            noop.append(self.cli(noop_args, cwd=scratch)[0])
        return {
            "ours": {"median": statistics.median(ours), "min": min(ours), "max": max(ours)},
            "noop": {"median": statistics.median(noop), "min": min(noop), "max": max(noop)},
            "ratio": statistics.median(ours) / statistics.median(noop),
        }

    def run(self) -> dict[str, object]:
        sizes = [2] if self.smoke else [10, 365]
        self.results["seed"] = {f"{d}_days": self.seed(d) for d in sizes}
        seeded = 3 if self.smoke else 365
        seed_source(self.source, generate_turbine_data(days=seeded))
        self.results["etl_day"] = self.etl_day(date(2024, 1, 2))
        backfill_sizes = [2, 3] if self.smoke else [10, 100, 365]
        self.results["backfill"] = {f"{d}_days": self.backfill(d) for d in backfill_sizes}
        self.results["materialize_one"] = self.one_partition_vs_noop()
        return self.results


def render(results: dict) -> str:
    m = results["machine"]
    seed = results["seed"]
    etl = results["etl_day"]
    back = results["backfill"]
    one = results["materialize_one"]

    def met(ok: bool) -> str:
        return "yes" if ok else "**no**"

    def spread(d: dict, scale: float = 1.0, digits: int = 2, unit: str = "s") -> str:
        """`median unit (min–max)` of one measurement."""
        return (
            f"{d['median'] * scale:.{digits}f} {unit} "
            f"({d['min'] * scale:.{digits}f}–{d['max'] * scale:.{digits}f})"
        )

    lines = [
        "# Benchmark results",
        "",
        f"Measured {results['when']} by `make bench` (`benchmarks/bench_pipeline.py`); raw figures in `results.json`.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; PostgreSQL {m.get('postgresql')}; "
        f"Python {m['python']}; {m['os']}.",
        "",
        "| scenario | measured: median (min–max) | reference: median | ratio / throughput | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for key, s in seed.items():
        year_scale = s["rows"] >= 365 * 1440
        lines.append(
            f"| seed the source, {key.replace('_', ' ')} ({s['rows']:,} rows) | {spread(s, digits=3)} | "
            f"| {s['rows_per_s']:,.0f} rows/s | ≥ 200,000 rows/s for the year | "
            f"{met(s['rows_per_s'] >= 200_000) if year_scale else ''} |"
        )
    lines.append(
        f"| ETL core, one day (API read + aggregate + load) | {spread(etl['etl_core'], 1000, 1, 'ms')} | "
        f"SQL floor {etl['sql_floor']['median'] * 1000:.1f} ms | {etl['ratio']:.2f}× | ≤ 3× | "
        f"{met(etl['ratio'] <= 3)} |"
    )
    per_days = [b["per_day"] for b in back.values()]
    for b in back.values():
        if b["days"] == 365:
            target, ok = "≤ 15 s", met(b["median"] <= 15)
        else:
            # Flat: no partition count costs more per day than a smaller one (start-up spreads).
            target, ok = (
                "flat per day",
                met(all(y <= x * 1.1 for x, y in itertools.pairwise(per_days))),
            )
        lines.append(
            f"| single-run backfill, {b['days']} days (CLI) | {spread(b)} | "
            f"ETL core × days {etl['etl_core']['median'] * b['days']:.2f} s; "
            f"Dagster's floor {b['dagster_floor']:.2f} s | "
            f"{b['per_day'] * 1000:.0f} ms/day; {b['ratio_to_floor']:.2f}× the floor | "
            f"{target} | {ok} |"
        )
    lines.append(
        f"| `dagster asset materialize`, one partition | {spread(one['ours'])} | "
        f"no-op asset {one['noop']['median']:.2f} s | {one['ratio']:.2f}× | ≤ 1.3× | "
        f"{met(one['ratio'] <= 1.3)} |"
    )
    biggest = list(back.values())[-1]
    lines += [
        "",
        f"Memory, {biggest['days']}-day backfill: run process peak RSS {biggest['run_peak_rss_mib'] or 0:.0f} MiB; "
        f"API peak RSS {biggest['api_peak_rss_mib'] or 0:.0f} MiB. Run process peak RSS by size: "
        + ", ".join(f"{b['days']} days {b['run_peak_rss_mib'] or 0:.0f} MiB" for b in back.values())
        + ". A run holds its Source rows once (its checks judge them in the asset's own step, "
        "indexed by day once) and its aggregates once; the API pages a year "
        "in 100,000-row pages, so neither side builds a whole year's response at once.",
        "",
    ]
    if biggest["days"] >= 365:
        per_day = biggest["per_day"]
        year_100 = 100 * 365 * per_day
        lines += [
            "## Scaling",
            "",
            f"The {biggest['days']}-day backfill costs {per_day * 1000:.0f} ms per turbine-day "
            "end to end (API read, aggregation, load, checks, metadata). A year of 100 turbines is "
            f"36,500 turbine-days: about {year_100 / 60:.0f} minutes on this one machine, run as "
            "single-run backfills (100× the rows per day, so the same per-row cost, if the Source "
            "and Target keep up). In the Compose deployment the `QueuedRunCoordinator` and "
            "`DockerRunLauncher` run up to 4 runs at once, each in its own container; splitting the "
            "year into ranges (or partitioning by turbine and day) spreads it over those workers, "
            "and past one machine the same runs go to a remote Docker host or Kubernetes "
            "(`dagster-k8s`), bounded by what the two PostgreSQL servers can absorb.",
            "",
        ]
    year = back.get("365_days")
    if year and year["median"] > 15:
        lines += [
            "## Target missed: 365 days in 15 s",
            "",
            f"The 365-day single-run backfill took {year['median']:.1f} s. Dagster's own floor for "
            "the same run (a no-op asset recording the same 365 materializations and 4 × 365 check "
            f"verdicts, with the same executor and instance) took {year['dagster_floor']:.1f} s; "
            f"our own share is {year['median'] - year['dagster_floor']:.1f} s (the ETL core alone "
            f"would be {etl['etl_core']['median'] * 365:.1f} s at one day per call).",
            "",
        ]
    lines += [
        "## What changed to meet the targets",
        "",
        "The 365-day backfill took 41.2 s at the end of the first session (Dagster's floor then "
        "21.6 s, on a SQLite instance). Measured one change at a time on this machine:",
        "",
        "- **Dagster's instance in the stack's PostgreSQL, its event log over a kept-open "
        "connection** (`wind_stack/dagster_storage.py`). Dagster's `PostgresEventLogStorage` "
        "connects anew for every event (SQLite's opens its files anew for every event too); the "
        "no-op floor for a year was 23.5 s on SQLite, 24.5 s on stock PostgreSQL storage and "
        "10.0 s with one kept-open connection.",
        "- **Batched materialization events** (`DAGSTER_EVENT_BATCH_SIZE`, Dagster's own switch, "
        "set in the environment that runs the code location): the 365 materializations of a step are one multi-row insert. "
        "Floor 10.0 → 7.7 s.",
        "- **Asynchronous commit for Dagster's database only** in the local stack (Source and "
        "Target stay synchronous): floor 8.6 → 7.3 s.",
        "- **Checks evaluated once for all days of a run** (one merge, one pivot, per-day counts "
        "by group; examples built only for failing days): the four checks' own work for 365 days "
        "went from 7.6 s to 0.3 s with identical verdicts.",
        "- **Partition metadata from one pivot per day in numpy** (preview and chart share it; SVG "
        "paths formatted by numpy) and the run's rows grouped by day once: 365 days' metadata "
        "went from 2.7 s to 0.3 s, byte for byte the same.",
        "- **One paged API call per run** instead of a request a day (asset and checks): reading a "
        "year went from 2.1 s to 0.8 s.",
        "- **The checks are declared on the asset** (`check_specs`) and judge each day in the "
        "asset's own step from the rows it just read and wrote, instead of reading the Source "
        "again in a second step; run on their own they read the API. About 0.7 s of a year.",
        "- **In-process executor.** With Dagster's default multiprocess executor the asset and its "
        "checks each ran in a new process that imported the code location again: one partition "
        "took 5.8 s against the no-op's 2.6 s (2.3×).",
        "- **Binary COPY encoded by numpy** (`wind_pipeline/pg_copy.py`) for the Source seed and the "
        "Target load: pandas' `to_csv` with a date format took ~7 s for a year of Source rows.",
        "- **CSV from the API** (`format=csv`, built by PostgreSQL): see `API_RESULTS.md`.",
        "- **One HTTP client per run**; all days of a run cleaned and aggregated at once; the "
        "checks read the Target with one COPY.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one iteration")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="wind-bench-") as scratch:
        bench = Bench(Path(scratch), smoke=args.smoke)
        try:
            bench.start()
            results = bench.run()
        finally:
            bench.stop()
    results["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "RESULTS.md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
