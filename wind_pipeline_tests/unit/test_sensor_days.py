"""Which days the late-data sensor looks at: the Source's newest days up to yesterday (UTC),
from a fixed `now` (no clock read). The sensor against the real API is in dagster/test_sensors.py."""

from __future__ import annotations

from datetime import UTC, date, datetime

from wind_pipeline.partitions import build_daily_partitions
from wind_pipeline.sensors import LOOKBACK_DAYS, candidate_days

LIVE, FIXED = build_daily_partitions(live=True), build_daily_partitions(live=False)


def test_candidate_days_are_the_newest_days_of_the_source_up_to_yesterday():
    now = datetime(2024, 3, 1, 0, 30, tzinfo=UTC)
    # Live mode, a source reaching into today: today is not a partition yet.
    days = candidate_days(
        datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, 12, 0, tzinfo=UTC), now, LIVE
    )
    assert len(days) == LOOKBACK_DAYS
    assert days[-1] == date(2024, 2, 29)
    assert days[0] == date(2024, 2, 16)
    # A short source: only its own days.
    assert candidate_days(
        datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, 23, 59, tzinfo=UTC), now, LIVE
    ) == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    # Fixed mode: never past the design card's last day, whatever the Source holds.
    fixed = candidate_days(
        datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, 12, 0, tzinfo=UTC), now, FIXED
    )
    assert fixed == [date(2024, 1, d) for d in range(1, 11)]
