"""Day arithmetic and day profiling (what the Source holds for each UTC day), on hand-made frames.

The asset's metadata, its checks and the late-data sensor all describe a day with
`profile_days`; here its counts are compared with numbers worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from wind_pipeline.etl.coverage import (
    describe_ranges,
    fingerprint,
    mask_runs,
    profile_days,
    slot_gaps,
    unusable_values,
)
from wind_pipeline.etl.days import DayIndex, consecutive_runs, day_positions, day_start

DAY = date(2024, 1, 5)


def day_frame(day: date = DAY, drop: slice | None = None) -> pd.DataFrame:
    stamps = pd.date_range(day_start(day), periods=1440, freq="1min")
    frame = pd.DataFrame(
        {"timestamp": stamps, "wind_speed": np.full(1440, 8.0), "power": np.full(1440, 900.0)}
    )
    if drop is not None:
        frame = frame.drop(frame.index[drop]).reset_index(drop=True)
    return frame


def profile(frame: pd.DataFrame, days: list[date], **kwargs):
    return profile_days(frame, DayIndex.of(frame["timestamp"], days), **kwargs)


def at(hh_mm: str, day: date = DAY) -> datetime:
    hours, mins = map(int, hh_mm.split(":"))
    return datetime(day.year, day.month, day.day, hours, mins, tzinfo=UTC)


def test_day_start_is_midnight_utc():
    assert day_start(DAY) == datetime(2024, 1, 5, tzinfo=UTC)


def test_consecutive_runs_cut_at_gaps_and_at_the_longest_run():
    days = [date(2024, 1, d) for d in (7, 1, 2, 3, 2, 5, 6, 8, 9)]
    assert consecutive_runs(days, longest=3) == [
        [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)],
        [date(2024, 1, 5), date(2024, 1, 6), date(2024, 1, 7)],
        [date(2024, 1, 8), date(2024, 1, 9)],
    ]
    assert consecutive_runs([], longest=5) == []


def test_day_positions_place_each_time_in_its_utc_day():
    stamps = pd.to_datetime(
        [
            "2024-01-04T23:59:59Z",  # before the run
            "2024-01-05T00:00:00Z",
            "2024-01-05T23:59:59.999Z",
            "2024-01-06T00:00:00+01:00",  # 2024-01-05T23:00Z
            "2024-01-07T12:00:00Z",
            "2024-01-06T00:00:00Z",  # a day not in the run
        ],
        utc=True,
        format="ISO8601",
    )
    positions = day_positions(stamps, [date(2024, 1, 5), date(2024, 1, 7)])
    assert positions.tolist() == [-1, 0, 0, 0, 1, -1]
    assert day_positions(stamps, []).tolist() == [-1] * 6


def test_a_complete_day_has_1440_minutes_and_no_missing_ranges():
    (coverage,) = profile(day_frame(), [DAY])
    assert coverage.day == DAY
    assert coverage.minutes_present == 1440 and coverage.minutes_missing == 0
    assert coverage.complete and coverage.fully_usable
    assert coverage.missing_ranges == ()
    assert coverage.unusable == {"wind_speed": 0, "power": 0}
    assert coverage.percent_present == 100.0


def test_missing_minutes_are_counted_and_given_as_ranges():
    # Minutes 10:00..10:59 (600..659) and 23:59 (1439) are missing: 61 minutes.
    frame = day_frame()
    frame = frame.drop(frame.index[list(range(600, 660)) + [1439]]).reset_index(drop=True)
    (coverage,) = profile(frame, [DAY])
    assert coverage.minutes_present == 1379 and coverage.minutes_missing == 61
    assert not coverage.complete
    assert coverage.missing_ranges == ((at("10:00"), at("10:59")), (at("23:59"), at("23:59")))
    assert coverage.percent_present == round(100 * 1379 / 1440, 2)
    assert describe_ranges(coverage.missing_ranges) == "10:00-10:59, 23:59"


def test_an_off_minute_row_counts_for_its_whole_minute_only_once():
    frame = day_frame(drop=slice(720, 721))  # 12:00 missing
    extra = frame.iloc[[0]].assign(timestamp=pd.Timestamp("2024-01-05T11:59:30Z"))
    (coverage,) = profile(pd.concat([frame, extra], ignore_index=True), [DAY])
    assert coverage.minutes_present == 1439, "11:59:30 does not stand in for 12:00"
    assert coverage.missing_ranges == ((at("12:00"), at("12:00")),)


def test_unusable_values_are_null_nan_infinite_or_out_of_range():
    frame = day_frame()
    frame["wind_speed"] = frame["wind_speed"].astype("Float64")
    frame.loc[0, "wind_speed"] = None
    frame.loc[1, "wind_speed"] = -0.5
    frame.loc[2, "wind_speed"] = 80.0
    frame.loc[3, "power"] = np.inf
    (coverage,) = profile(frame, [DAY])
    assert coverage.unusable == {"wind_speed": 3, "power": 1}
    assert coverage.complete and not coverage.fully_usable
    flags = unusable_values(
        np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 75.0, 75.01]), "wind_speed"
    )
    assert flags.tolist() == [True, True, True, True, False, False, True]


def test_days_of_a_run_are_profiled_each_to_itself_and_other_rows_are_ignored():
    days = [date(2024, 1, 5), date(2024, 1, 6), date(2024, 1, 7)]
    frame = pd.concat(
        [
            day_frame(date(2024, 1, 4)),  # not in the run
            day_frame(date(2024, 1, 5), drop=slice(0, 30)),
            day_frame(date(2024, 1, 7)),
        ],
        ignore_index=True,
    ).sample(frac=1, random_state=2)
    coverages = profile(frame, days)
    assert [c.day for c in coverages] == days
    assert [c.minutes_present for c in coverages] == [1410, 0, 1440]
    assert coverages[0].missing_ranges == ((at("00:00"), at("00:29")),)
    assert coverages[1].missing_ranges == ((day_start(days[1]), at("23:59", days[1])),)


def test_fingerprints_change_with_any_row_and_not_with_how_the_rows_came():
    one = day_frame()
    (alone,) = profile(one, [DAY], fingerprints=True)
    two = pd.concat([day_frame(date(2024, 1, 4)), one], ignore_index=True)
    both = profile(two, [date(2024, 1, 4), DAY], fingerprints=True)
    assert alone.fingerprint == both[1].fingerprint, "fetched alone or with another day"
    assert len(alone.fingerprint) == 20
    changed = one.copy()
    changed.loc[700, "power"] = 901.0
    assert fingerprint(changed) != fingerprint(one)
    assert fingerprint(one.drop(index=5)) != fingerprint(one)
    assert profile(one, [DAY])[0].fingerprint == "", "only when asked"


def test_fingerprint_treats_null_and_nan_alike():
    a = day_frame().astype({"power": "Float64"})
    b = day_frame()
    a.loc[3, "power"] = None
    b.loc[3, "power"] = np.nan
    assert fingerprint(a) == fingerprint(b)


def test_mask_runs_and_slot_gaps():
    mask = np.array([True, True, False, True, False, False, True])
    assert mask_runs(mask) == [(0, 2), (3, 4), (6, 7)]
    assert mask_runs(np.array([], dtype=bool)) == []
    start = datetime(2024, 1, 5, tzinfo=UTC)
    step = pd.Timedelta(minutes=10).to_pytimedelta()
    assert slot_gaps(start, mask, step) == (
        (at("00:20"), at("00:20")),
        (at("00:40"), at("00:50")),
    )


def test_describe_ranges_stops_at_the_limit():
    ranges = [(at(f"{h:02d}:00"), at(f"{h:02d}:00")) for h in range(8)]
    assert describe_ranges(ranges, limit=3) == "00:00, 01:00, 02:00, (+5 more)"
    assert describe_ranges([]) == ""
