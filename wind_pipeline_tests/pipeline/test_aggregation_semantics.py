"""Aggregation semantics on a hand-made day, checked by hand and against PostgreSQL's own
`date_bin` + `stddev_samp`, through the real API and the real Dagster asset."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.etl.transform import aggregate_10min
from wind_pipeline.resources import ConektorClient, TargetDatabase
from wind_pipeline_tests.support.helpers import seed

DAY = datetime(2024, 1, 5, tzinfo=UTC)
NULL = None


def _minute(hh: int, mm: int) -> datetime:
    return DAY + timedelta(hours=hh, minutes=mm)


def _hand_made_rows() -> pd.DataFrame:
    rows = []
    # 00:00 bucket: ten samples, wind 1..10, one NULL power.
    for i in range(10):
        rows.append((_minute(0, i), float(i + 1), NULL if i == 3 else 100.0 * (i + 1), 5.0))
    # 00:10 bucket: a single sample -> std is NULL.
    rows.append((_minute(0, 14), 7.5, 750.0, 5.0))
    # 00:20 bucket: no rows at all (a gap) -> no output rows.
    # 00:30 bucket: wind all NULL -> no wind rows; power present.
    for i in range(3):
        rows.append((_minute(0, 30 + i), NULL, 10.0 * i, 5.0))
    # 23:50 bucket: the day's last, two samples.
    rows.append((_minute(23, 50), 3.0, 30.0, 5.0))
    rows.append((_minute(23, 59), 5.0, 50.0, 5.0))
    # Neighbouring days' rows must not leak into the day.
    rows.append((DAY - timedelta(minutes=1), 99.0, 999.0, 5.0))
    rows.append((DAY + timedelta(days=1), 99.0, 999.0, 5.0))
    return pd.DataFrame(rows, columns=["timestamp", "wind_speed", "power", "ambient_temperature"])


@pytest.fixture(scope="module")
def hand_made_source(new_database: Callable[[str], str]) -> str:
    url = new_database("handmade")
    seed(url, _hand_made_rows())
    return url


SQL_REFERENCE = """
SELECT date_bin('10 minutes', timestamp, TIMESTAMPTZ '2024-01-01 00:00Z') AS bucket,
       '{v}_' || stat AS signal,
       CASE stat WHEN 'mean' THEN avg({v}) WHEN 'min' THEN min({v})
                 WHEN 'max' THEN max({v}) ELSE stddev_samp({v}) END AS value
FROM data CROSS JOIN (VALUES ('mean'), ('min'), ('max'), ('std')) AS s(stat)
WHERE timestamp >= :start AND timestamp < :end
GROUP BY bucket, stat
HAVING count({v}) > 0
"""


def sql_reference(source_url: str, start: datetime, end: datetime) -> dict[tuple, float | None]:
    """The day's aggregates computed by PostgreSQL itself, keyed by (signal, bucket start)."""
    engine = sa.create_engine(source_url)
    result = {}
    with engine.connect() as conn:
        for variable in ("wind_speed", "power"):
            for bucket, signal, value in conn.execute(
                sa.text(SQL_REFERENCE.format(v=variable)), {"start": start, "end": end}
            ):
                result[(signal, bucket)] = value
    engine.dispose()
    return result


def target_rows(target_url: str) -> dict[tuple, float | None]:
    engine = sa.create_engine(target_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT s.name, d.timestamp, d.value FROM data d JOIN signal s ON s.id = d.signal_id"
            )
        ).all()
    engine.dispose()
    return {(name, ts): value for name, ts, value in rows}


def _assert_same(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        if value is None:
            assert actual[key] is None, key
        else:
            assert actual[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_hand_made_day_through_api_and_asset(hand_made_source, start_api, target_url):
    api = start_api(hand_made_source)
    result = dg.materialize(
        [wind_10min_aggregates],
        partition_key="2024-01-05",
        resources={
            "conektor": ConektorClient(base_url=api.url),
            "target_db": TargetDatabase(url=target_url),
        },
    )
    assert result.success
    written = target_rows(target_url)

    # By hand.
    b0, b10, b30, b2350 = _minute(0, 0), _minute(0, 10), _minute(0, 30), _minute(23, 50)
    assert written[("wind_speed_mean", b0)] == pytest.approx(5.5)
    assert written[("wind_speed_min", b0)] == 1.0
    assert written[("wind_speed_max", b0)] == 10.0
    assert written[("wind_speed_std", b0)] == pytest.approx(math.sqrt(55 / 6))
    power = [100.0 * (i + 1) for i in range(10) if i != 3]  # the NULL is skipped
    assert written[("power_mean", b0)] == pytest.approx(sum(power) / 9)
    assert written[("wind_speed_mean", b10)] == 7.5
    assert written[("wind_speed_std", b10)] is None  # one sample
    assert written[("power_std", b10)] is None
    assert not any(ts == _minute(0, 20) for _, ts in written)  # the gap
    assert not any(sig.startswith("wind_speed") and ts == b30 for sig, ts in written)
    assert written[("power_max", b30)] == 20.0
    assert written[("wind_speed_mean", b2350)] == 4.0
    assert all(DAY <= ts < DAY + timedelta(days=1) for _, ts in written)
    # 5 buckets with power (00:00, 00:10, 00:30, 23:50) ... count exactly:
    assert len(written) == 4 * 3 + 4 * 4  # wind: 3 buckets; power: 4 buckets

    # And against PostgreSQL's date_bin + stddev_samp.
    _assert_same(written, sql_reference(hand_made_source, DAY, DAY + timedelta(days=1)))


def test_transform_matches_sql_on_a_full_seeded_day(source_url, api_url):
    from wind_pipeline.etl.conektor_client import ConektorSession

    with ConektorSession(api_url) as session:
        frame = session.fetch_window(DAY, DAY + timedelta(days=1), ["wind_speed", "power"])
    aggregates = aggregate_10min(frame)
    actual = {
        (row.signal, row.timestamp.to_pydatetime()): (None if pd.isna(row.value) else row.value)
        for row in aggregates.itertuples()
    }
    expected = sql_reference(source_url, DAY, DAY + timedelta(days=1))
    assert len(expected) == 1152
    _assert_same(actual, expected)
    assert (aggregates["timestamp"].dt.minute % 10 == 0).all()
    assert str(aggregates["timestamp"].dt.tz) == "UTC"
