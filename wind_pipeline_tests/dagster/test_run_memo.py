"""The asset's Source rows reach the checks of the same run only: another run, a second take
or days the asset did not read all go back to the API."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd

from wind_pipeline.checks import wind_10min_aggregates_checks
from wind_pipeline.etl import run_memo
from wind_pipeline_tests.dagster.test_backfill import DAYS, RANGE_TAGS, backfill
from wind_pipeline_tests.support.helpers import etl_resources

TAKEN = "taken from this run's asset step"


def _frame(*days: str) -> pd.DataFrame:
    stamps = pd.to_datetime([f"{d}T00:00:00Z" for d in days] + [f"{d}T12:00:00Z" for d in days])
    return pd.DataFrame({"timestamp": stamps, "wind_speed": 5.0, "power": 100.0})


def test_the_same_run_takes_its_rows_once():
    run_memo.remember(
        "run-a", [date(2024, 1, 1), date(2024, 1, 2)], _frame("2024-01-01", "2024-01-02")
    )
    taken = run_memo.take("run-a", [date(2024, 1, 2)])
    assert taken is not None
    assert list(taken["timestamp"].dt.strftime("%Y-%m-%d %H:%M")) == [
        "2024-01-02 00:00",
        "2024-01-02 12:00",
    ]
    assert run_memo.take("run-a", [date(2024, 1, 2)]) is None  # forgotten after one take


def test_another_run_or_other_days_get_nothing():
    run_memo.remember("run-a", [date(2024, 1, 1)], _frame("2024-01-01"))
    assert run_memo.take("run-b", [date(2024, 1, 1)]) is None
    run_memo.remember("run-a", [date(2024, 1, 1)], _frame("2024-01-01"))
    assert run_memo.take("run-a", [date(2024, 1, 1), date(2024, 1, 2)]) is None
    run_memo.remember("run-a", [date(2024, 1, 1)], _frame("2024-01-01"))
    run_memo.remember("run-c", [date(2024, 1, 1)], _frame("2024-01-01"))  # only the latest run
    assert run_memo.take("run-a", [date(2024, 1, 1)]) is None


def _logged(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [record.user_message for record in instance.all_logs(run_id)]


def test_a_backfill_checks_with_its_assets_rows_and_checks_alone_read_the_api(api_url, target_url):
    with dg.instance_for_test() as instance:
        result = backfill(api_url, target_url, instance)
        assert result.success
        assert any(TAKEN in message for message in _logged(instance, result.run_id))
        verdicts = result.get_asset_check_evaluations()
        assert len(verdicts) == 4 * len(DAYS) and all(v.passed for v in verdicts)

        # The checks on their own, in a run of their own: nothing to take, so the API.
        alone = dg.materialize(
            [wind_10min_aggregates_checks],
            instance=instance,
            tags=RANGE_TAGS,
            resources=etl_resources(api_url, target_url),
            selection=dg.AssetSelection.checks_for_assets("wind_10min_aggregates"),
        )
        assert alone.success
        assert not any(TAKEN in message for message in _logged(instance, alone.run_id))
        assert len(alone.get_asset_check_evaluations()) == 4 * len(DAYS)
