"""`source_seed`: the documented period, one row a minute, no duplicates on re-seeding."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import sqlalchemy as sa

from wind_pipeline.assets.source import source_seed
from wind_pipeline.resources import SourceDatabase
from wind_pipeline_tests.support.helpers import scalar


def _materialize_seed(url: str, config: dict | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [source_seed],
        resources={"source_db": SourceDatabase(url=url)},
        run_config={"ops": {"source_seed": {"config": config or {}}}},
    )


def test_seed_fills_the_documented_period_once_a_minute(new_database: Callable[[str], str]):
    url = new_database("seed")
    result = _materialize_seed(url)
    assert result.success

    stats = sa.text(
        """
        SELECT count(*), count(DISTINCT timestamp), min(timestamp), max(timestamp),
               max(gap), min(gap)
        FROM (SELECT timestamp,
                     timestamp - lag(timestamp) OVER (ORDER BY timestamp) AS gap FROM data) s
        """
    )
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count, distinct, first, last, max_gap, min_gap = conn.execute(stats).one()
    engine.dispose()
    assert count == distinct == 14_400
    assert first.isoformat() == "2024-01-01T00:00:00+00:00"
    assert last.isoformat() == "2024-01-10T23:59:00+00:00"
    assert str(max_gap) == str(min_gap) == "0:01:00"

    materialization = result.asset_materializations_for_node("source_seed")[0]
    assert materialization.metadata["dagster/row_count"].value == 14_400


def test_seeding_twice_never_duplicates(new_database: Callable[[str], str]):
    url = new_database("seed")
    assert _materialize_seed(url).success
    before = scalar(url, "SELECT md5(string_agg(data::text, ',' ORDER BY timestamp)) FROM data")
    assert _materialize_seed(url).success
    assert scalar(url, "SELECT count(*) FROM data") == 14_400
    # Same seed, same data: re-seeding converges on the identical table.
    assert (
        scalar(url, "SELECT md5(string_agg(data::text, ',' ORDER BY timestamp)) FROM data")
        == before
    )


def test_seed_window_and_random_seed_are_configurable(new_database: Callable[[str], str]):
    url = new_database("seed")
    assert _materialize_seed(url, {"start_date": "2024-03-01", "days": 2, "random_seed": 7}).success
    assert scalar(url, "SELECT count(*) FROM data") == 2 * 1440
    assert str(scalar(url, "SELECT min(timestamp) FROM data")).startswith("2024-03-01 00:00:00")
