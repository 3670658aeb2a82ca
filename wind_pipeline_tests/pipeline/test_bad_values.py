"""Bad source values (NaN, +/-infinity, physically impossible): skipped like NULLs, and counted.

The Source gets a day with planted bad values; the day goes through the real API and the
real asset, and the Target must equal PostgreSQL's own aggregation of the *valid* values
(so pandas is checked against SQL, not against itself). The policy: docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from wind_pipeline.etl.conektor_client import ConektorSession
from wind_pipeline.etl.transform import (
    PLAUSIBLE_RANGES,
    aggregate_10min_with_quality,
)
from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline_tests.support.faultkit import materialize
from wind_pipeline_tests.support.helpers import execute, scalar, seed

DAY = datetime(2024, 1, 5, tzinfo=UTC)
WIND = PLAUSIBLE_RANGES["wind_speed"]
POWER = PLAUSIBLE_RANGES["power"]

# minute of the day -> (column, planted value as PostgreSQL text)
PLANTED = {
    1: ("wind_speed", "NaN"),
    2: ("wind_speed", "Infinity"),
    3: ("wind_speed", "-Infinity"),
    4: ("wind_speed", "-3.5"),  # negative wind
    5: ("wind_speed", "130"),  # beyond any anemometer's 10-minute reading
    6: ("power", "NaN"),
    7: ("power", "Infinity"),
    8: ("power", "1e6"),  # far above rated
    9: ("power", "-5000"),  # a generator cannot draw that much
    12: ("power", f"{POWER.high}"),  # exactly on the bound: kept
    13: ("wind_speed", "0"),  # calm: kept
    # the 00:20 bucket's wind is all bad: it produces no wind rows at all
    **{20 + i: ("wind_speed", "NaN" if i % 2 else "-1") for i in range(10)},
}
EXPECTED_SKIPS = {
    "wind_speed": {"missing": 6, "infinite": 2, "below_range": 6, "above_range": 1},
    "power": {"missing": 1, "infinite": 1, "below_range": 1, "above_range": 1},
}

REFERENCE = """
SELECT date_bin('10 minutes', timestamp, TIMESTAMPTZ '2024-01-01 00:00Z') AS bucket,
       '{v}_' || stat AS signal,
       CASE stat WHEN 'mean' THEN avg({v}) WHEN 'min' THEN min({v})
                 WHEN 'max' THEN max({v}) ELSE stddev_samp({v}) END AS value
FROM (SELECT timestamp,
             CASE WHEN {v} BETWEEN :low AND :high THEN {v} END AS {v}  -- NaN and +-inf fail it
      FROM data WHERE timestamp >= :start AND timestamp < :end) valid
CROSS JOIN (VALUES ('mean'), ('min'), ('max'), ('std')) AS s(stat)
GROUP BY bucket, stat
HAVING count({v}) > 0
"""


@pytest.fixture(scope="module")
def bad_source(new_database: Callable[[str], str]) -> str:
    url = new_database("badvalues")
    seed(url, generate_turbine_data(start=DAY, days=1))
    for minute, (column, value) in PLANTED.items():
        execute(
            url,
            f"UPDATE data SET {column} = CAST(:value AS double precision) "  # noqa: S608 - fixed names
            "WHERE timestamp = :start + make_interval(mins => :minute)",
            value=value,
            start=DAY,
            minute=minute,
        )
    return url


@pytest.fixture(scope="module")
def bad_api(bad_source: str, start_api: Callable) -> str:
    return start_api(bad_source).url


def _reference(source_url: str) -> dict[tuple, float | None]:
    engine = sa.create_engine(source_url)
    found = {}
    with engine.connect() as conn:
        for variable, bounds in (("wind_speed", WIND), ("power", POWER)):
            rows = conn.execute(
                sa.text(REFERENCE.format(v=variable)),
                {"low": bounds.low, "high": bounds.high, "start": DAY, "end": DAY.replace(day=6)},
            )
            for bucket, signal, value in rows:
                found[(signal, bucket)] = value
    engine.dispose()
    return found


def test_the_api_sends_nan_and_infinity_as_valid_json(bad_api: str):
    """PostgreSQL's JSON has no NaN/Infinity literals: they arrive as strings (or null)."""
    import httpx

    response = httpx.get(
        f"{bad_api}/data",
        params={"start": "2024-01-05T00:00Z", "end": "2024-01-05T00:10Z", "format": "columns"},
    )

    def strict(token: str) -> float:
        raise AssertionError(f"bare {token} in the API's JSON")

    body = json.loads(response.text, parse_constant=strict)
    assert body["data"]["wind_speed"][1] in ("NaN", None)
    assert body["data"]["wind_speed"][2] in ("Infinity", None)
    assert body["data"]["wind_speed"][3] in ("-Infinity", None)


def test_bad_values_are_counted_per_variable_and_reason(bad_api: str):
    with ConektorSession(bad_api) as session:
        frame = session.fetch_window(DAY, DAY.replace(day=6), ["wind_speed", "power"])
    _, counts = aggregate_10min_with_quality(frame)
    assert counts.rows == 1440
    assert counts.skipped == EXPECTED_SKIPS
    assert counts.used == {"wind_speed": 1440 - 15, "power": 1440 - 4}
    metadata = counts.as_metadata()
    assert metadata["values_invalid"] == 2 + 6 + 1 + 1 + 1 + 1
    assert metadata["power_above_range"] == 1 and metadata["wind_speed_missing"] == 6


def test_the_asset_skips_bad_values_and_matches_postgresql_on_the_valid_ones(
    bad_source: str, bad_api: str, target_url: str
):
    result = materialize(bad_api, target_url, partition_key="2024-01-05")
    assert result.success
    # The partition's metadata counts what the policy skipped, per variable and reason.
    (materialization,) = result.asset_materializations_for_node("wind_10min_aggregates")
    shown = {k: v.value for k, v in materialization.metadata.items() if k.startswith("values/")}
    assert shown["values/values_invalid"] == 2 + 6 + 1 + 1 + 1 + 1
    assert shown["values/power_above_range"] == 1 and shown["values/wind_speed_missing"] == 6
    assert shown["values/wind_speed_used"] == 1440 - 15
    reference = _reference(bad_source)
    engine = sa.create_engine(target_url)
    with engine.connect() as conn:
        written = {
            (name, ts): value
            for name, ts, value in conn.execute(
                sa.text(
                    "SELECT s.name, d.timestamp, d.value FROM data d JOIN signal s ON s.id = d.signal_id"
                )
            )
        }
    engine.dispose()

    assert written.keys() == reference.keys()
    for key, expected in reference.items():
        if expected is None:
            assert written[key] is None, key
        else:
            assert math.isclose(written[key], expected, rel_tol=1e-9, abs_tol=1e-9), key
    bucket_0020 = DAY.replace(minute=20)
    assert ("wind_speed_mean", bucket_0020) not in written  # all its wind values were bad
    assert ("power_mean", bucket_0020) in written
    assert scalar(target_url, "SELECT count(*) FROM data WHERE value = 'NaN'") == 0
    assert scalar(target_url, "SELECT count(*) FROM data WHERE abs(value) = 'Infinity'") == 0
    assert (
        scalar(
            target_url,
            "SELECT max(value) FROM data WHERE signal_id IN "
            "(SELECT id FROM signal WHERE name = 'power_max')",
        )
        <= POWER.high
    )
