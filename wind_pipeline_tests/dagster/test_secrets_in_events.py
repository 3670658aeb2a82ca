"""No password reaches Dagster's event log or `wind-etl`'s output, however the URL writes it:
inline, as libpq's `?password=`, or inline with an unencoded `@`. The event log is scanned as
stored, after runs that succeed and runs that fail."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from wind_pipeline.assets.aggregates import build_wind_10min_aggregates
from wind_pipeline.resources import ConektorClient, TargetDatabase
from wind_pipeline_tests.support.faultkit import WIND_ETL, start_loader

QUERY_SECRET = "Leak9QueryPw"
AT_SECRET = "Sec@Leak9AtPw"
FAST_RETRY = dg.RetryPolicy(max_retries=1, delay=0.05)


def _query_form(url: str) -> tuple[str, str]:
    """`url` with its password moved to `?password=` (or a made-up one, if it has none)."""
    parsed = sa.make_url(url)
    secret = parsed.password or QUERY_SECRET
    moved = parsed.set(password=None).update_query_dict({"password": str(secret)})
    return moved.render_as_string(hide_password=False), str(secret)


def _closed_port(url: str, password_form: str) -> str:
    parsed = sa.make_url(url)
    return f"postgresql+psycopg2://{parsed.username or 'u'}:{password_form}@127.0.0.1:1/nowhere"


def _stored_bytes(instance: dg.DagsterInstance) -> bytes:
    root = Path(instance.root_directory)
    return b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())


def _materialize(instance, api_url: str, target_url: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_wind_10min_aggregates(retry_policy=FAST_RETRY)],
        instance=instance,
        partition_key="2024-01-05",
        resources={
            "conektor": ConektorClient(base_url=api_url, backoff_seconds=0.01, max_attempts=1),
            "target_db": TargetDatabase(url=target_url),
        },
        raise_on_error=False,
    )


def test_no_password_form_reaches_the_event_log(api_url, target_url):
    good_url, good_secret = _query_form(target_url)
    failing = {
        QUERY_SECRET: _closed_port(target_url, "x") + f"?password={QUERY_SECRET}",
        AT_SECRET: _closed_port(target_url, AT_SECRET),
    }
    with dg.instance_for_test() as instance:
        assert _materialize(instance, api_url, good_url).success
        for url in failing.values():
            result = _materialize(instance, api_url, url)
            assert not result.success
            failure = next(e for e in result.all_events if e.is_step_failure)
            text = str(failure.step_failure_data.error)
            assert "unavailable" in text and "***" in text, text
        stored = _stored_bytes(instance)
    for secret in (good_secret, *failing):
        assert secret.encode() not in stored, f"{secret!r} is in the event log"
        assert secret.split("@")[-1].encode() not in stored


@pytest.mark.parametrize("secret", [QUERY_SECRET, AT_SECRET])
def test_wind_etl_never_prints_a_password(api_url, target_url, secret):
    url = _closed_port(target_url, "x") + f"?password={secret}"
    if secret == AT_SECRET:
        url = _closed_port(target_url, secret)
    result = start_loader(
        [WIND_ETL, "2024-01-05"], {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": url}
    ).finish()
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert secret not in output and secret.split("@")[-1] not in output, output
    assert "***" in output
