"""The OpenAPI states the rules its per-parameter schemas cannot (end > start, the range
length without `limit`, the UTC calendar's edges), and each 422 for them quotes its rule."""

from __future__ import annotations

import httpx
import pytest

BREAKING = {
    "must be after start": {"start": "2024-01-06", "end": "2024-01-05"},
    "may span at most": {"start": "2024-01-01", "end": "2024-01-04"},
    "out of range": {"start": "0001-01-01T00:00:00+01:00", "end": "2024-01-05"},
}


@pytest.fixture(scope="module")
def two_day_api(source_url: str, start_api) -> str:
    from wind_pipeline_tests.support.postgres import reader_url

    return start_api(reader_url(source_url), WIND_API_MAX_RANGE_DAYS=2).url


def _operation(api_url: str) -> dict:
    return httpx.get(f"{api_url}/openapi.json").json()["paths"]["/data"]["get"]


def test_the_openapi_lists_the_cross_parameter_rules(two_day_api: str):
    operation = _operation(two_day_api)
    rules = operation["x-cross-parameter-rules"]
    assert {rule["error"] for rule in rules} == set(BREAKING)
    assert all(rule["parameters"] and rule["rule"] for rule in rules)
    description = operation["responses"]["422"]["description"]
    assert "end > start" in description
    assert "2 days" in description  # the configured maximum, not the default


@pytest.mark.parametrize("error", list(BREAKING))
def test_each_stated_rule_is_the_one_a_422_quotes(two_day_api: str, error: str):
    stated = {rule["error"] for rule in _operation(two_day_api)["x-cross-parameter-rules"]}
    response = httpx.get(f"{two_day_api}/data", params=BREAKING[error])
    assert response.status_code == 422
    assert error in stated and error in response.text
