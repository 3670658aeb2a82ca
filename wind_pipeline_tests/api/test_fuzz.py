"""Property-based fuzzing of the Conektor's OpenAPI schema with schemathesis, against the real
app on real PostgreSQL (as the read-only role): no 5xx and no response that breaks the schema,
for valid and for invalid requests.

Bounded: at most 60 generated requests per operation and mode (a few seconds in all).
Reproducible: Hypothesis is derandomized (the same examples on every run and machine, no
example database), so a failure comes back when the test is rerun. `WIND_FUZZ_RANDOM=1`
explores fresh examples instead, for a search beyond the suite.
schemathesis' own pytest plugin (`from_fixture`) does not run under pytest 9.2, so the
operations' Hypothesis strategies are driven directly.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

OPERATIONS = [("GET", "/data"), ("GET", "/coverage"), ("GET", "/variables"), ("GET", "/health")]
DERANDOMIZE = os.environ.get("WIND_FUZZ_RANDOM") != "1"


def stated_rules(openapi: dict) -> tuple[str, ...]:
    """What a 422 quotes for each rule JSON Schema cannot express (it relates two parameters,
    or a parameter and the time zone): the OpenAPI states them on GET /data."""
    rules = openapi["paths"]["/data"]["get"]["x-cross-parameter-rules"]
    return tuple(rule["error"] for rule in rules)


def a_422_for_valid_data_names_its_rule(ctx, response, case) -> bool | None:
    """Replaces positive_data_acceptance: 422 is right for valid-looking data only when one of
    the cross-parameter rules the OpenAPI states is broken, and the message must say which."""
    meta = case.meta
    if response.status_code == 422 and meta is not None and meta.generation.mode.is_positive:
        rules = stated_rules(case.operation.schema.raw_schema)
        assert any(rule in response.text for rule in rules), response.text
    return None


@pytest.fixture(scope="module")
def conektor_schema(api_url: str):
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json")


def test_every_operation_is_fuzzed(conektor_schema):
    listed = {
        (result.ok().method.upper(), result.ok().path)
        for result in conektor_schema.get_all_operations()
    }
    assert listed == set(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS]
    + [("GET", "/data", GenerationMode.NEGATIVE)],  # the only operation with parameters
)
def test_no_input_crashes_or_breaks_the_schema(conektor_schema, method, path, mode):
    operation = conektor_schema[path][method]
    seen: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        response = case.call_and_validate(
            excluded_checks=[positive_data_acceptance],
            additional_checks=[a_422_for_valid_data_names_its_rule],
        )
        seen.append(response.status_code)

    fuzz()
    assert seen and all(status < 500 for status in seen)
    if path == "/data":
        expected = {200, 422} if mode is GenerationMode.POSITIVE else {422}
        assert expected <= set(seen), f"the fuzzer never got {expected - set(seen)}"


_OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_ANY_TIME = st.one_of(
    st.datetimes(min_value=datetime.min, max_value=datetime.max),
    st.sampled_from([datetime.min, datetime.max]),  # the calendar's edges, often
)
_TIMES = st.one_of(
    _ANY_TIME.map(datetime.isoformat),  # naive: UTC
    st.builds(lambda t, tz: t.replace(tzinfo=tz).isoformat(), _ANY_TIME, _OFFSETS),
)


def test_any_representable_time_gets_200_or_a_422_that_says_why(api: httpx.Client):
    """Every datetime Python can write, with any offset, as start, end or cursor: the edges of
    the calendar (year 1 with a positive offset, year 9999 with a negative one) included."""
    rules = stated_rules(api.get("/openapi.json").json())

    @given(start=_TIMES, end=_TIMES, cursor=st.none() | _TIMES, paged=st.booleans())
    @settings(max_examples=100, deadline=None, database=None, derandomize=DERANDOMIZE)
    def check(start: str, end: str, cursor: str | None, paged: bool) -> None:
        params = {"start": start, "end": end, "variables": "power", "format": "csv"}
        if cursor is not None:
            params["cursor"] = cursor
        if paged:
            params["limit"] = "10"
        response = api.get("/data", params=params)
        assert response.status_code in (200, 422), (params, response.text)
        if response.status_code == 422:
            assert any(rule in response.text for rule in rules), response.text

    check()
