"""The Conektor's request parsing, without a server: what a time is, content negotiation, and
the API's settings. The routes themselves are tested over HTTP in api/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from api_service.http import accept_quality
from api_service.settings import ApiConfigurationError, ApiSettings, load_api_settings
from api_service.times import CursorTime, RangeTime

RANGE = TypeAdapter(RangeTime)
CURSOR = TypeAdapter(CursorTime)


SECRET = "Pw4Secret"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-05", datetime(2024, 1, 5)),
        ("2024-01-05T10:30", datetime(2024, 1, 5, 10, 30)),
        ("2024-01-05T10:30:15Z", datetime(2024, 1, 5, 10, 30, 15, tzinfo=UTC)),
        ("2024-01-05 10:30:15.5", datetime(2024, 1, 5, 10, 30, 15, 500_000)),
        (
            "2024-01-05T01:00+01:00",
            datetime(2024, 1, 5, 1, 0, tzinfo=timezone(timedelta(hours=1))),
        ),
        (" 2024-01-05T00:00:00Z ", datetime(2024, 1, 5, tzinfo=UTC)),
    ],
)
def test_iso_8601_times_are_times(text, expected):
    assert RANGE.validate_python(text) == expected


@pytest.mark.parametrize(
    "text", ["20240105", "1704412800", "1704412800000", "", "Jan 5 2024", "2024/01/05"]
)
def test_numbers_and_other_forms_are_not_times(text):
    with pytest.raises(ValidationError) as caught:
        RANGE.validate_python(text)
    (error,) = caught.value.errors()
    assert error["type"] == "iso_datetime"
    assert "numbers such as Unix seconds or 20240105 are not times" in error["msg"]


def test_an_impossible_date_says_why():
    with pytest.raises(ValidationError) as caught:
        RANGE.validate_python("2024-02-30")
    (error,) = caught.value.errors()
    assert error["type"] == "iso_datetime"
    assert error["msg"].endswith(
        "expected an ISO-8601 time: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.ffffff]] "
        "with an optional Z or +HH:MM offset (none means UTC), e.g. "
        "2024-01-05T00:00:00Z; numbers such as Unix seconds or 20240105 "
        "are not times"
    )


def test_a_finer_fraction_rounds_up_in_a_range_and_is_dropped_in_a_cursor():
    text = "2024-01-05T00:00:00.0000001Z"  # 100 ns after midnight
    assert RANGE.validate_python(text) == datetime(2024, 1, 5, 0, 0, 0, 1, tzinfo=UTC)
    assert CURSOR.validate_python(text) == datetime(2024, 1, 5, tzinfo=UTC)
    # Zeros past the microsecond are not a finer fraction.
    exact = "2024-01-05T00:00:00.000001000Z"
    assert RANGE.validate_python(exact) == datetime(2024, 1, 5, 0, 0, 0, 1, tzinfo=UTC)


def test_rounding_up_the_last_time_is_out_of_range():
    with pytest.raises(ValidationError, match="out of range once rounded up"):
        RANGE.validate_python("9999-12-31T23:59:59.9999999")


@pytest.mark.parametrize(
    ("accept", "media_type", "quality"),
    [
        (None, "text/csv", None),
        ("text/csv", "text/csv", 1.0),
        ("text/csv;q=0.5, application/json", "text/csv", 0.5),
        ("text/*;q=0.3, text/csv;q=0.8", "text/csv", 0.8),  # the most specific range wins
        ("text/*;q=0.3, */*;q=0.9", "text/csv", 0.3),
        ("*/*", "application/json", 1.0),
        ("text/html", "text/csv", None),
        ("text/csv;q=0", "text/csv", 0.0),
        ("text/csv;q=7", "text/csv", 1.0),  # clamped
        ("text/csv;q=abc, */*;q=0.2", "text/csv", 0.2),  # a malformed q drops its range
        ("TEXT/CSV;Q=0.4", "text/csv", 0.4),
    ],
)
def test_accept_quality(accept, media_type, quality):
    assert accept_quality(accept, media_type) == quality


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)
    for name in (
        "WIND_API_DB_URL",
        "WIND_SOURCE_DB_URL",
        "WIND_API_MAX_RANGE_DAYS",
        "WIND_API_POOL_SIZE",
        "WIND_API_STATEMENT_TIMEOUT_MS",
        "WIND_API_CORS_ORIGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_api_settings_defaults_and_the_source_url_fallback(api_env):
    settings = ApiSettings()
    assert settings.max_range_days == 31 and settings.cors_origin_list == []
    api_env.setenv("WIND_SOURCE_DB_URL", "postgresql://owner@db/s")
    assert ApiSettings().db_url == "postgresql://owner@db/s"
    api_env.setenv("WIND_API_DB_URL", "postgresql://reader@db/s")
    assert ApiSettings().db_url == "postgresql://reader@db/s", "its own role first"
    api_env.setenv("WIND_API_CORS_ORIGINS", " https://a.example , ,https://b.example")
    assert ApiSettings().cors_origin_list == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WIND_API_DB_URL", f"mysql://u:{SECRET}@h/d"),
        ("WIND_API_DB_URL", f"postgresql://u:{SECRET}@h:notaport/d"),
        ("WIND_API_MAX_RANGE_DAYS", "0"),
        ("WIND_API_POOL_SIZE", "many"),
    ],
)
def test_a_bad_api_setting_is_one_line_naming_it_without_the_password(api_env, name, value):
    api_env.setenv(name, value)
    with pytest.raises(ApiConfigurationError) as caught:
        load_api_settings()
    message = str(caught.value)
    assert message.startswith(f"invalid configuration: {name}: ")
    assert SECRET not in message and "\n" not in message
