"""The binary COPY encoder round-trips through real PostgreSQL, NULLs included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from wind_pipeline.pg_copy import copy_frame


def test_round_trip_with_every_null_pattern(new_database):
    url = new_database("copy")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id int4, ts timestamptz, a float8, b float8)"))
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "ts": pd.to_datetime(
                [
                    "2024-01-05T00:00:00Z",
                    "1999-12-31T23:59:59.5Z",  # before PostgreSQL's epoch: negative offset
                    "2024-01-05T01:00:00+01:00",  # an offset, converted to UTC
                    "2100-06-01T12:34:56.789012Z",
                    "2024-02-29T00:00:00Z",
                ],
                utc=True,
                format="ISO8601",
            ),
            "a": [1.5, np.nan, -0.0, 1e300, np.nan],
            "b": [np.nan, 2.5, 3.5, -1e-300, np.nan],
        }
    )
    columns = [("id", "int4"), ("ts", "timestamptz"), ("a", "float8"), ("b", "float8")]
    with engine.begin() as conn:
        assert copy_frame(conn.connection.dbapi_connection.cursor(), "t", frame, columns) == 5
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), a, b FROM t ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert rows == [
        (1, "2024-01-05 00:00:00.000000", 1.5, None),
        (2, "1999-12-31 23:59:59.500000", None, 2.5),
        (3, "2024-01-05 00:00:00.000000", -0.0, 3.5),
        (4, "2100-06-01 12:34:56.789012", 1e300, -1e-300),
        (5, "2024-02-29 00:00:00.000000", None, None),
    ]
