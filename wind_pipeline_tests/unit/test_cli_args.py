"""`wind-etl`'s argument and date handling, called in process: usage errors exit 2 before
any connection (the settings point at closed ports), with one line on stderr."""

from __future__ import annotations

from datetime import date

import pytest

from wind_pipeline import cli
from wind_pipeline.cli import EXIT_USAGE, main, parse_day

TODAY = date(2024, 3, 1)  # a fixed reference day: no midnight-UTC race
CLOSED = "postgresql+psycopg2://postgres@127.0.0.1:1/x"
SECRET = "Pw4Secret"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    """Settings at closed ports, no .env; a connection attempt would fail the test loudly."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WIND_SOURCE_DB_URL", CLOSED)
    monkeypatch.setenv("WIND_TARGET_DB_URL", CLOSED)
    monkeypatch.setenv("WIND_API_URL", "http://127.0.0.1:1")

    def no_engine(*args, **kwargs):
        raise AssertionError("a usage error must not connect")

    monkeypatch.setattr(cli, "make_engine", no_engine)
    return monkeypatch


def test_parse_day_takes_a_calendar_date_from_the_first_partition_to_yesterday():
    assert parse_day("2024-01-01", live=True, today=TODAY) == date(2024, 1, 1)
    assert parse_day("2024-02-29", live=True, today=TODAY) == date(2024, 2, 29)


def test_in_fixed_mode_the_partitions_are_the_design_cards_ten_days():
    assert parse_day("2024-01-01", live=False) == date(2024, 1, 1)
    assert parse_day("2024-01-10", live=False) == date(2024, 1, 10)
    with pytest.raises(ValueError) as caught:
        parse_day("2024-01-11", live=False)
    assert str(caught.value) == (
        "date 2024-01-11 is outside the partitions: 2024-01-01 .. 2024-01-10, the design card's "
        "ten days (fixed mode; `make live` for a live Source)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20240105", "invalid date '20240105': expected YYYY-MM-DD, e.g. 2024-01-05"),
        ("2024-W01-5", "invalid date '2024-W01-5': expected YYYY-MM-DD"),
        ("2024-02-30", "invalid date '2024-02-30'"),
        ("2024-1-5", "invalid date '2024-1-5'"),
        (" 2024-01-05", "invalid date ' 2024-01-05'"),
        ("", "invalid date ''"),
        ("2023-12-31", "date 2023-12-31 is outside the partitions: from 2024-01-01 to 2024-03-01"),
        ("2024-03-01", "outside the partitions: from 2024-01-01 to 2024-03-01 (exclusive; today"),
        ("2030-01-01", "date 2030-01-01 is outside the partitions"),
    ],
)
def test_parse_day_refuses_with_a_message_that_says_why(text, message):
    with pytest.raises(ValueError) as caught:
        parse_day(text, live=True, today=TODAY)
    assert message in str(caught.value)


def test_parse_day_defaults_to_the_real_utc_today():
    with pytest.raises(ValueError, match="outside the partitions"):
        parse_day("9999-12-31", live=True)


@pytest.mark.parametrize("argv", [[], ["2024-01-05", "2024-01-06"], ["--bogus", "2024-01-05"]])
def test_a_bad_command_line_exits_2_with_one_line(offline, capsys, argv):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == EXIT_USAGE == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wind-etl: ") and err.endswith("(see wind-etl --help)")
    assert "\n" not in err


def test_help_exits_0(offline, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    assert "YYYY-MM-DD" in capsys.readouterr().out


def test_a_bad_date_exits_2_without_connecting(offline, capsys):
    assert main(["2024-13-01"]) == 2
    assert capsys.readouterr().err == (
        "wind-etl: invalid date '2024-13-01': expected YYYY-MM-DD, e.g. 2024-01-05\n"
    )


def test_a_bad_setting_exits_2_naming_the_variable_without_the_password(offline, capsys):
    offline.setenv("WIND_TARGET_DB_URL", f"mysql://u:{SECRET}@h/d")
    assert main(["2024-01-05"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wind-etl: invalid configuration: WIND_TARGET_DB_URL: ")
    assert SECRET not in err
