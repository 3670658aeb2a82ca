"""The live feed `source_live_readings` against real PostgreSQL: it fills the last days up to
the current minute with no gap and no duplicate, then appends only what is missing, with the
same values every time; it never overwrites a correction nor fills a gap inside its period;
after a re-seed it refills its whole period identically; in fixed mode it fails in one line.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from wind_pipeline.assets.live_source import build_source_live_readings
from wind_pipeline.db import make_engine
from wind_pipeline.domain import PLAUSIBLE_RANGES
from wind_pipeline.mode import OFF_MESSAGE
from wind_pipeline.resources import SourceDatabase
from wind_pipeline.source_data import append_readings, generate_turbine_data
from wind_pipeline.turbine_model import readings_between
from wind_pipeline_tests.support.helpers import execute, scalar, seed

LIVE_FEED = build_source_live_readings(live=True)
DESIGN_ROWS = "SELECT count(*) FROM data WHERE timestamp < '2024-01-11Z'"


def read_source(url: str, since: datetime) -> pd.DataFrame:
    engine = make_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql(
            sa.text("SELECT * FROM data WHERE timestamp >= :since ORDER BY timestamp"),
            conn,
            params={"since": since},
        )
    engine.dispose()
    return frame


def feed(
    url: str, instance: dg.DagsterInstance, asset=LIVE_FEED, fill_days: int = 3
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset],
        instance=instance,
        resources={"source_db": SourceDatabase(url=url)},
        run_config={"ops": {"source_live_readings": {"config": {"fill_days": fill_days}}}},
        raise_on_error=False,
    )


def rows_added(result: dg.ExecuteInProcessResult) -> int:
    (materialization,) = result.asset_materializations_for_node("source_live_readings")
    return materialization.metadata["rows_added"].value


@pytest.fixture
def source(new_database) -> str:
    url = new_database("feed_source")
    seed(url, generate_turbine_data())  # the design card's ten days, as `make live` seeds them
    return url


def test_the_feed_fills_the_last_days_then_appends_only_what_is_missing(source):
    since = datetime.combine(datetime.now(UTC).date() - timedelta(days=3), time(), UTC)
    with dg.instance_for_test() as instance:
        before = datetime.now(UTC).replace(second=0, microsecond=0)
        first = feed(source, instance)
        after = datetime.now(UTC).replace(second=0, microsecond=0)
        assert first.success
        frame = read_source(source, since)
        stamps = frame["timestamp"]
        # From 00:00 three days ago up to the current minute, every minute exactly once.
        assert stamps.iloc[0] == since and before <= stamps.iloc[-1] <= after
        assert stamps.diff().dropna().eq(pd.Timedelta(minutes=1)).all()
        assert (
            len(frame) == rows_added(first) == (stamps.iloc[-1] - since) // pd.Timedelta("1min") + 1
        )
        for name, bounds in PLAUSIBLE_RANGES.items():
            assert frame[name].between(bounds.low, bounds.high).all(), name
        assert frame["ambient_temperature"].between(-40, 50).all()
        assert scalar(source, DESIGN_ROWS) == 14_400, "the design card's days are untouched"

        # A moment later: the newest two minutes are missing again (as if not yet written).
        newest = stamps.iloc[-1]
        execute(source, "DELETE FROM data WHERE timestamp > :t", t=newest - timedelta(minutes=2))
        second = feed(source, instance)
        again = read_source(source, since)
        assert rows_added(second) == len(again) - len(frame) + 2
        assert again["timestamp"].diff().dropna().eq(pd.Timedelta(minutes=1)).all()
        # The same minutes get the same values, whichever run writes them.
        pd.testing.assert_frame_equal(again.iloc[: len(frame)], frame)


def test_corrections_and_gaps_stay_and_a_reseed_is_refilled_identically(source):
    with dg.instance_for_test() as instance:
        assert feed(source, instance).success
        yesterday = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), time(), UTC)
        noon, gap = yesterday + timedelta(hours=12), yesterday + timedelta(hours=13)
        execute(source, "UPDATE data SET wind_speed = 99 WHERE timestamp = :t", t=noon)
        execute(source, "DELETE FROM data WHERE timestamp = :t", t=gap)
        feed(source, instance)
        assert scalar(source, "SELECT wind_speed FROM data WHERE timestamp = :t", t=noon) == 99
        assert scalar(source, "SELECT count(*) FROM data WHERE timestamp = :t", t=gap) == 0

        # source_seed empties the table; the next feed refills the feed's whole period, from
        # the first minute its first run recorded (not from the 1 day it is now asked for).
        before = read_source(source, yesterday - timedelta(days=2))
        seed(source, generate_turbine_data())
        assert feed(source, instance, fill_days=1).success
        after = read_source(source, yesterday - timedelta(days=2))
        common = after["timestamp"].isin(before["timestamp"]) & (after["timestamp"] != noon)
        expected = before[before["timestamp"] != noon].reset_index(drop=True)
        pd.testing.assert_frame_equal(after[common].reset_index(drop=True), expected)


def test_two_feeds_at_once_never_duplicate(source):
    start = datetime.combine(datetime.now(UTC).date(), time(), UTC) - timedelta(days=1)
    frame = readings_between(start, start + timedelta(hours=6), 42)
    engine = sa.create_engine(source)
    counts: list[int] = []
    threads = [
        threading.Thread(target=lambda: counts.append(append_readings(engine, frame)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    engine.dispose()
    assert sum(counts) == 360, counts
    assert scalar(source, "SELECT count(*) FROM data WHERE timestamp >= :s", s=start) == 360


def test_in_fixed_mode_the_feed_fails_in_one_line_and_writes_nothing(source):
    with dg.instance_for_test() as instance:
        result = feed(source, instance, build_source_live_readings(live=False))
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description == OFF_MESSAGE
    assert "\n" not in OFF_MESSAGE and "make live" in OFF_MESSAGE
    assert scalar(source, "SELECT count(*) FROM data") == 14_400
