"""Retries: transient faults (503, a database that is down) are retried, first by the client,
then by the step; a 4xx, an empty day or a missing schema fails at once. Every failure is one
line naming its cause. Requests are counted at a small fault-injecting HTTP proxy in front of
the real API.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from wind_pipeline.assets.aggregates import build_wind_10min_aggregates
from wind_pipeline.resources import ConektorClient, TargetDatabase
from wind_pipeline_tests.support.faultkit import one_line_failure
from wind_pipeline_tests.support.helpers import scalar
from wind_pipeline_tests.support.sources import EMPTY_DAY, api_over_a_source_ending_early
from wind_stack.net import free_port

# The production policy waits ~5, 15, 35 s; the same shape with short delays keeps tests fast.
FAST_RETRY = dg.RetryPolicy(
    max_retries=3, delay=0.05, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
asset_under_test = build_wind_10min_aggregates(FAST_RETRY)
DAY = "2024-01-05"


class FaultProxy:
    """Forwards GETs to the real API, except that it can answer the first `fail_first` `/data`
    requests with a 503, or swap `start` and `end` so the real API answers 422."""

    def __init__(self, upstream: str, *, fail_first: int = 0, swap_range: bool = False):
        self.upstream = upstream
        self.fail_first = fail_first
        self.swap_range = swap_range
        self.requests: Counter[str] = Counter()
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                proxy.handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        with self._lock:
            self.requests[parts.path] += 1
            failing = parts.path == "/data" and self.requests["/data"] <= self.fail_first
        if failing:
            status, body = 503, b'{"detail": "source database unavailable"}'
        else:
            query = parse_qsl(parts.query)
            if self.swap_range and parts.path == "/data":
                values = dict(query)
                swap = {"start": values["end"], "end": values["start"]}
                query = [(k, swap.get(k, v)) for k, v in query]
            upstream = httpx.get(f"{self.upstream}{parts.path}?{urlencode(query)}", timeout=30)
            status, body = upstream.status_code, upstream.content
        self.statuses.append(status)
        request.send_response(status)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy_factory(api_url: str) -> Iterator:
    proxies: list[FaultProxy] = []

    def make(upstream: str = api_url, **kwargs) -> FaultProxy:
        proxy = FaultProxy(upstream, **kwargs).__enter__()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.__exit__()


def run_day(api: str, target_url: str, *, client_attempts: int, partition: str = DAY):
    return dg.materialize(
        [asset_under_test],
        partition_key=partition,
        resources={
            "conektor": ConektorClient(
                base_url=api, max_attempts=client_attempts, backoff_seconds=0.01
            ),
            "target_db": TargetDatabase(url=target_url),
        },
        raise_on_error=False,
    )


def step_retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(
        1 for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The run's failure: one line, the step's and the run's only error (no exception chain)."""
    return one_line_failure(result.all_events)


@pytest.mark.parametrize(
    ("client_attempts", "fail_first", "requests", "retries", "success"),
    [
        # The client absorbs three 503s on its own: no step retry.
        (4, 3, 4, 0, True),
        # With two tries a request, the third 503 is met by the step's first retry.
        (2, 3, 4, 1, True),
        # The API never recovers: 4 step attempts x 2 tries, then a clear failure.
        (2, 100, 8, 3, False),
    ],
    ids=["client-retries", "step-retries", "gives-up"],
)
def test_503_is_retried_by_the_client_then_by_the_step(
    proxy_factory, target_url, client_attempts, fail_first, requests, retries, success
):
    proxy = proxy_factory(fail_first=fail_first)
    result = run_day(proxy.url, target_url, client_attempts=client_attempts)
    assert result.success is success
    assert proxy.requests["/data"] == requests
    assert step_retries(result) == retries
    if success:
        assert scalar(target_url, "SELECT count(*) FROM data") == 1152
    else:
        message = failure_message(result)
        assert message.startswith(
            f"Conektor API at {proxy.url} unavailable after 2 attempts: HTTP 503"
        )
        assert message.endswith("(gave up after 4 step attempts)")
        assert scalar(target_url, "SELECT count(*) FROM data") == 0


def test_422_fails_at_once_without_any_retry(proxy_factory, target_url):
    proxy = proxy_factory(swap_range=True)
    result = run_day(proxy.url, target_url, client_attempts=4)
    assert not result.success
    assert proxy.requests["/data"] == 1, "a 4xx is never retried by the client"
    assert proxy.statuses == [422], "the real API refused the swapped range"
    assert step_retries(result) == 0, "nor by the step"
    message = failure_message(result)
    assert message.startswith("Conektor API refused /data (422)")
    assert "must be after start" in message
    assert scalar(target_url, "SELECT count(*) FROM data") == 0


def test_empty_source_day_fails_at_once_without_any_retry(
    proxy_factory, target_url, new_database, start_api
):
    # An empty day inside fixed mode's partitions: a Source that ends a day early.
    proxy = proxy_factory(upstream=api_over_a_source_ending_early(new_database, start_api))
    result = run_day(proxy.url, target_url, client_attempts=4, partition=EMPTY_DAY)
    assert not result.success
    assert step_retries(result) == 0
    assert proxy.requests["/data"] == 1
    assert f"no source data for {EMPTY_DAY}" in failure_message(result)


def test_unreachable_target_database_is_retried_then_fails_clearly(api_url):
    # Nothing listens on this port: every connection is refused, as with a stopped server.
    dead = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/wind_target"
    result = run_day(api_url, dead, client_attempts=1)
    assert not result.success
    assert step_retries(result) == 3
    message = failure_message(result)
    assert message.startswith(f"Target database {dead} unavailable: connection to server at")
    assert "refused" in message.lower()
    assert message.endswith("(gave up after 4 step attempts)")


def test_a_target_without_the_schema_fails_at_once_in_one_line(api_url, new_database):
    bare = new_database("no_schema")  # nobody materialized target_schema here: no tables
    result = run_day(api_url, bare, client_attempts=1)
    assert not result.success
    assert step_retries(result) == 0
    where = sa.make_url(bare).render_as_string(hide_password=True)
    assert failure_message(result) == (
        f'Target database {where} refused the ETL: relation "signal" does not exist '
        "(has target_schema been materialized?)"
    )
