"""Transform: one-minute rows to 10-minute mean/min/max/std per variable, vectorised with pandas.

Semantics (README, "Aggregation"): buckets are closed on the left and labelled by their
start; NULL source values are skipped; std is the sample std (ddof=1), NULL for a bucket
with one sample; a bucket with no value for a variable produces no rows for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from wind_pipeline.target_models import AGGREGATED_VARIABLES, STATISTICS

BUCKET = "10min"


def aggregate_10min(
    frame: pd.DataFrame, variables: Sequence[str] = AGGREGATED_VARIABLES
) -> pd.DataFrame:
    """Return long rows (timestamp, signal, value), signal being e.g. `power_std`."""
    if frame.empty:
        return pd.DataFrame(
            {
                "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
                "signal": pd.Series(dtype="object"),
                "value": pd.Series(dtype="float64"),
            }
        )
    values = frame.set_index("timestamp")[list(variables)]
    buckets = values.index.floor(BUCKET)
    stats = values.groupby(buckets).agg(["count", *STATISTICS])
    stats.index.name = "timestamp"

    parts = []
    for variable in variables:
        per_variable = stats[variable]
        present = per_variable[per_variable["count"] > 0][list(STATISTICS)]
        present.columns = [f"{variable}_{stat}" for stat in STATISTICS]
        parts.append(
            present.reset_index().melt(id_vars="timestamp", var_name="signal", value_name="value")
        )
    return pd.concat(parts, ignore_index=True)
