"""Checks of `source_seed`: the Source table is what its configuration says, one row a minute.

They read the Source database directly (the table `source_seed` wrote), and compare it with
the configuration recorded in `source_seed`'s latest materialization.

- `matches_config` and `one_row_a_minute` are blocking: every aggregate is computed from this
  table, so a Source that is not the configured period, or not one row a minute, makes every
  day downstream suspect; in a run that seeds and aggregates, aggregation does not start.
- `values_usable` is a WARN and not blocking: the aggregation skips NULL and NaN values by
  design, so a few of them make a day thinner, not wrong.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from sqlalchemy import Engine, Float, and_, cast, func, literal, or_, select

from api_service.models import source_table
from wind_pipeline.assets.source import source_seed
from wind_pipeline.checks.outcome import ERROR, WARN, Outcome, report
from wind_pipeline.resources import SourceDatabase

MATCHES_CONFIG = "matches_config"
ONE_ROW_A_MINUTE = "one_row_a_minute"
VALUES_USABLE = "values_usable"
VARIABLES = ("wind_speed", "power", "ambient_temperature")
EXAMPLES = 5

SPECS = {
    MATCHES_CONFIG: dg.AssetCheckSpec(
        MATCHES_CONFIG,
        asset=source_seed,
        blocking=True,
        description=(
            "Row count, first and last timestamp equal the configured window "
            "(start_date, days): days x 1,440 rows from start_date 00:00Z to the last day 23:59Z."
        ),
    ),
    ONE_ROW_A_MINUTE: dg.AssetCheckSpec(
        ONE_ROW_A_MINUTE,
        asset=source_seed,
        blocking=True,
        description="Timestamps are unique, on whole minutes, and one minute apart (no gaps).",
    ),
    VALUES_USABLE: dg.AssetCheckSpec(
        VALUES_USABLE,
        asset=source_seed,
        blocking=False,
        description="No NULL, NaN or infinite wind_speed, power or ambient_temperature (WARN).",
    ),
}


def _minute(moment: datetime | None) -> str:
    return "none" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


@dataclass(frozen=True)
class SeedConfig:
    start_date: date
    days: int

    @property
    def first(self) -> datetime:
        return datetime.combine(self.start_date, datetime.min.time(), UTC)

    @property
    def last(self) -> datetime:
        return self.first + timedelta(days=self.days) - timedelta(minutes=1)

    @property
    def rows(self) -> int:
        return self.days * 1440


@dataclass(frozen=True)
class TableFacts:
    rows: int
    distinct: int
    first: datetime | None
    last: datetime | None
    off_minute: int
    # (previous, next) timestamps around each step that is not one minute (gaps).
    bad_steps: int
    bad_step_examples: list[tuple[datetime, datetime]]
    unusable: dict[str, tuple[int, datetime | None]]


def read_table_facts(engine: Engine) -> TableFacts:
    t = source_table
    ts = t.c.timestamp
    with engine.connect() as conn:
        rows, distinct, first, last, off_minute = conn.execute(
            select(
                func.count(),
                func.count(ts.distinct()),
                func.min(ts),
                func.max(ts),
                func.count().filter(func.date_trunc("minute", ts) != ts),
            )
        ).one()
        steps = select(ts.label("ts"), func.lag(ts).over(order_by=ts).label("previous")).subquery()
        off_step = and_(
            steps.c.previous.is_not(None), steps.c.ts - steps.c.previous != timedelta(minutes=1)
        )
        bad_steps = conn.execute(select(func.count()).where(off_step)).scalar_one()
        examples = conn.execute(
            select(steps.c.previous, steps.c.ts)
            .where(off_step)
            .order_by(steps.c.ts)
            .limit(EXAMPLES)
        ).all()
        unusable = {}
        for name in VARIABLES:
            column = t.c[name]
            bad = or_(
                column.is_(None),
                column.in_([cast(literal(v), Float) for v in ("NaN", "Infinity", "-Infinity")]),
            )
            count, first_bad = conn.execute(
                select(func.count().filter(bad), func.min(ts).filter(bad))
            ).one()
            unusable[name] = (count, first_bad)
    return TableFacts(
        rows, distinct, first, last, off_minute, bad_steps, [tuple(e) for e in examples], unusable
    )


def seed_config(instance: dg.DagsterInstance) -> SeedConfig | None:
    """The configuration of `source_seed`'s latest materialization, from its metadata."""
    records = instance.fetch_materializations(source_seed.key, limit=1).records
    if not records or records[0].asset_materialization is None:
        return None
    metadata = records[0].asset_materialization.metadata
    if "config_start_date" not in metadata or "config_days" not in metadata:
        return None
    return SeedConfig(
        date.fromisoformat(str(metadata["config_start_date"].value)),
        int(metadata["config_days"].value),  # type: ignore[arg-type]
    )


def matches_config_outcome(config: SeedConfig | None, facts: TableFacts) -> Outcome:
    holds = (
        f"the Source holds {facts.rows:,} rows from {_minute(facts.first)} to {_minute(facts.last)}"
    )
    metadata = {"rows": facts.rows, "first": _minute(facts.first), "last": _minute(facts.last)}
    if config is None:
        return Outcome(
            False,
            f"{holds}; source_seed has no recorded configuration to compare with "
            "(materialize source_seed)",
            ERROR,
            metadata,
        )
    metadata |= {
        "configured_rows": config.rows,
        "configured_first": _minute(config.first),
        "configured_last": _minute(config.last),
    }
    configured = (
        f"start_date {config.start_date}, days {config.days}: {config.rows:,} rows from "
        f"{_minute(config.first)} to {_minute(config.last)}"
    )
    if (facts.rows, facts.first, facts.last) == (config.rows, config.first, config.last):
        return Outcome(True, f"{holds}, as configured ({configured})", metadata=metadata)
    return Outcome(False, f"{holds}; the configuration says {configured}", ERROR, metadata)


def one_row_a_minute_outcome(facts: TableFacts) -> Outcome:
    duplicates = facts.rows - facts.distinct
    metadata = {
        "duplicate_timestamps": duplicates,
        "timestamps_off_the_minute": facts.off_minute,
        "steps_not_one_minute": facts.bad_steps,
    }
    problems = []
    if duplicates:
        problems.append(f"{duplicates} duplicate timestamp(s)")
    if facts.off_minute:
        problems.append(f"{facts.off_minute} timestamp(s) not on a whole minute")
    if facts.bad_steps:
        shown = "; ".join(
            f"after {_minute(before)} the next row is {_minute(after)}"
            + (
                f" ({int((after - before) / timedelta(minutes=1)) - 1} minute(s) missing)"
                if after - before > timedelta(minutes=1)
                else ""
            )
            for before, after in facts.bad_step_examples
        )
        more = f" (+{facts.bad_steps - EXAMPLES} more)" if facts.bad_steps > EXAMPLES else ""
        problems.append(f"{facts.bad_steps} step(s) that are not one minute: {shown}{more}")
    if not problems:
        return Outcome(
            True,
            f"{facts.rows:,} unique timestamps, one minute apart, from {_minute(facts.first)} "
            f"to {_minute(facts.last)}",
            metadata=metadata,
        )
    return Outcome(False, "; ".join(problems), ERROR, metadata)


def values_usable_outcome(facts: TableFacts) -> Outcome:
    metadata = {f"unusable_{name}": count for name, (count, _) in facts.unusable.items()}
    problems = [
        f"{name} is NULL, NaN or infinite in {count} row(s) (first at {_minute(first)})"
        for name, (count, first) in facts.unusable.items()
        if count
    ]
    if not problems:
        return Outcome(
            True,
            f"all {facts.rows:,} rows have finite values for {', '.join(VARIABLES)}",
            metadata=metadata,
        )
    return Outcome(False, "; ".join(problems), WARN, metadata)


@dg.multi_asset_check(
    specs=list(SPECS.values()),
    name="source_seed_checks",
    description="The Source table matches source_seed's configuration, one row a minute, usable values.",
    can_subset=True,
)
def source_seed_checks(
    context: dg.AssetCheckExecutionContext, source_db: SourceDatabase
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """Evaluate the selected checks with a few aggregate queries on the Source table."""
    facts = read_table_facts(source_db.engine)
    verdicts = {
        MATCHES_CONFIG: lambda: matches_config_outcome(seed_config(context.instance), facts),
        ONE_ROW_A_MINUTE: lambda: one_row_a_minute_outcome(facts),
        VALUES_USABLE: lambda: values_usable_outcome(facts),
    }
    selected = context.selected_asset_check_keys
    yield from report(
        context,
        (
            (SPECS[name].key, None, verdict())
            for name, verdict in verdicts.items()
            if SPECS[name].key in selected
        ),
    )
