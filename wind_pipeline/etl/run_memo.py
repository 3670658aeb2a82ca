"""The Source rows a run's asset read, kept for the same run's checks in the same process.

A single-run backfill reads a year of Source rows through the Conektor API for the asset, and
its checks would read the same rows again a few seconds later. With the in-process executor
the checks step runs right after the asset step, in the same process, so it takes the asset's
rows from here instead (about 0.7 s of a 365-day run). Checks run on their own (another run,
or a retried step after the rows were taken) find nothing here and read the API, so they still
notice a Source that changed since the day was aggregated.

Only the latest run's rows are kept, keyed by run id: a process never hands one run's rows to
another run, and never holds more than one run's worth.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date

import pandas as pd

from wind_pipeline.etl.coverage import day_positions

_lock = threading.Lock()
_latest: tuple[str, frozenset[date], pd.DataFrame] | None = None


def remember(run_id: str, days: Sequence[date], frame: pd.DataFrame) -> None:
    """Keep `frame`, the Source rows of `days` that run `run_id` read (replacing any other)."""
    global _latest
    with _lock:
        _latest = (run_id, frozenset(days), frame)


def take(run_id: str, days: Sequence[date]) -> pd.DataFrame | None:
    """The rows of `days` if run `run_id` read all of them, else None. Either way, forget them."""
    global _latest
    with _lock:
        latest, _latest = _latest, None
    if latest is None or latest[0] != run_id or not set(days) <= latest[1]:
        return None
    frame = latest[2]
    return frame[day_positions(frame["timestamp"], days) >= 0].reset_index(drop=True)
