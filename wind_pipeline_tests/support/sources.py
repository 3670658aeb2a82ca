"""Sources other than the session's default one, each behind its own real API."""

from __future__ import annotations

from collections.abc import Callable

from wind_pipeline_tests.support.helpers import seed
from wind_pipeline_tests.support.postgres import reader_url

EMPTY_DAY = "2024-01-10"


def api_over_a_source_ending_early(new_database: Callable[[str], str], start_api) -> str:
    """The API over a Source of 2024-01-01 .. 2024-01-09: fixed mode's last partition,
    EMPTY_DAY, has no data (an empty day inside the partitions, which end with the design
    card's period)."""
    from wind_pipeline.source_data import generate_turbine_data

    url = new_database("short_source")
    seed(url, generate_turbine_data(days=9))
    return start_api(reader_url(url)).url
