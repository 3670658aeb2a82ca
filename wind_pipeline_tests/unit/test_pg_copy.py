"""The binary COPY payload, byte by byte, against PostgreSQL's documented format
(https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4): signature, flags,
header extension, then per tuple a field count and per field a length (-1 for NULL) and the
value in network byte order; a -1 field count ends the data. The round trip through a real
server is in pipeline/test_pg_copy.py."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

from wind_pipeline.pg_copy import copy_frame, encode_binary_copy

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
# 2024-01-05T00:00Z in microseconds since PostgreSQL's epoch 2000-01-01T00:00Z:
# 24 years of 365 days, 6 leap days (2000, 2004, ..., 2020) and 4 days of January: 8,770 days.
JAN5_US = 8770 * 86_400 * 10**6
COLUMNS = [("signal_id", "int4"), ("timestamp", "timestamptz"), ("value", "float8")]


FORMATS = {"int4": ">i", "int8": ">q", "timestamptz": ">q", "float8": ">d"}


def tuples(payload: bytes, kinds: list[str]) -> list[tuple]:
    """Decode a payload whose columns have these types, following the documented format."""
    assert payload.startswith(HEADER) and payload.endswith(TRAILER)
    body, out, pos = payload[len(HEADER) : -len(TRAILER)], [], 0
    while pos < len(body):
        (count,) = struct.unpack_from(">h", body, pos)
        pos += 2
        assert count == len(kinds)
        row = []
        for kind in kinds:
            (length,) = struct.unpack_from(">i", body, pos)
            pos += 4
            if length == -1:
                row.append(None)
                continue
            assert length == struct.calcsize(FORMATS[kind])
            row.append(struct.unpack_from(FORMATS[kind], body, pos)[0])
            pos += length
        out.append(tuple(row))
    return out


def test_one_row_byte_by_byte():
    frame = pd.DataFrame(
        {
            "signal_id": [3],
            "timestamp": pd.to_datetime(["2024-01-05T00:00:00Z"], utc=True),
            "value": [1.5],
        }
    )
    expected = (
        HEADER
        + struct.pack(">h", 3)
        + struct.pack(">ii", 4, 3)
        + struct.pack(">iq", 8, JAN5_US)
        + struct.pack(">id", 8, 1.5)
        + TRAILER
    )
    assert encode_binary_copy(frame, COLUMNS) == expected


def test_nan_is_written_as_null_with_length_minus_one():
    frame = pd.DataFrame(
        {
            "signal_id": [1, 2, 3],
            "timestamp": pd.to_datetime(["2024-01-05T00:10Z"] * 3, utc=True),
            "value": [np.nan, 2.0, np.nan],
        }
    )
    rows = tuples(encode_binary_copy(frame, COLUMNS), ["int4", "timestamptz", "float8"])
    ten = JAN5_US + 600 * 10**6
    # Rows are grouped by their NULL pattern; as a set they are the frame's rows.
    assert sorted(rows, key=lambda r: r[0]) == [(1, ten, None), (2, ten, 2.0), (3, ten, None)]
    payload = encode_binary_copy(frame, COLUMNS)
    assert payload.count(struct.pack(">i", -1)) == 2


def test_every_null_pattern_of_two_float_columns():
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-05", periods=4, freq="1min", tz="UTC"),
            "a": [1.0, np.nan, 3.0, np.nan],
            "b": [10.0, 20.0, np.nan, np.nan],
        }
    )
    columns = [("timestamp", "timestamptz"), ("a", "float8"), ("b", "float8")]
    payload = encode_binary_copy(frame, columns)
    minute = 60 * 10**6
    rows = sorted(tuples(payload, ["timestamptz", "float8", "float8"]))
    assert rows == [
        (JAN5_US, 1.0, 10.0),
        (JAN5_US + minute, None, 20.0),
        (JAN5_US + 2 * minute, 3.0, None),
        (JAN5_US + 3 * minute, None, None),
    ]
    # Per row: a field count (2), three lengths (12), the timestamp (8); plus 4 values of 8.
    assert len(payload) == len(HEADER) + len(TRAILER) + 4 * (2 + 12 + 8) + 4 * 8


def test_timestamps_in_other_zones_and_units_are_utc_microseconds():
    utc = pd.Series(pd.to_datetime(["2024-01-05T01:00:00+01:00"], utc=True))
    for stamps in (utc, utc.dt.tz_convert("Europe/Lisbon"), utc.dt.as_unit("s")):
        frame = pd.DataFrame({"timestamp": stamps})
        payload = encode_binary_copy(frame, [("timestamp", "timestamptz")])
        assert payload == HEADER + struct.pack(">hiq", 1, 8, JAN5_US) + TRAILER


def test_a_naive_timestamp_is_refused():
    frame = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-05T00:00:00"])})
    with pytest.raises(ValueError, match="'timestamp' must be timezone-aware"):
        encode_binary_copy(frame, [("timestamp", "timestamptz")])


def test_int8_and_an_empty_frame():
    frame = pd.DataFrame({"n": [2**40]})
    assert encode_binary_copy(frame, [("n", "int8")]) == (
        HEADER + struct.pack(">hiq", 1, 8, 2**40) + TRAILER
    )
    empty = pd.DataFrame({"n": pd.Series([], dtype="int64")})
    assert encode_binary_copy(empty, [("n", "int8")]) == HEADER + TRAILER


def test_copy_frame_sends_one_binary_copy_and_skips_an_empty_frame():
    class Cursor:
        def __init__(self):
            self.calls = []

        def copy_expert(self, sql, stream):
            self.calls.append((sql, stream.read()))

    cursor = Cursor()
    frame = pd.DataFrame({"n": [1, 2]})
    assert copy_frame(cursor, "data", frame, [("n", "int8")]) == 2
    ((sql, payload),) = cursor.calls
    assert sql == 'COPY "data" ("n") FROM STDIN WITH (FORMAT binary)'
    assert payload == encode_binary_copy(frame, [("n", "int8")])
    assert copy_frame(cursor, "data", frame.iloc[0:0], [("n", "int8")]) == 0
    assert len(cursor.calls) == 1
